"""What the apps' tasks need from the runtime context: the process's services."""

from __future__ import annotations

from backbeat.domain.services import Services
from backbeat.errors import ConfigurationError
from backbeat.jobs.runtime import JobContext


def services_of(context: JobContext) -> Services:
    if context.services is None:
        raise ConfigurationError("jobs", "the apps' jobs need the process's services")
    return context.services
