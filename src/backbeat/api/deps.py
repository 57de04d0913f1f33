"""What routes depend on, taken from the application's state (set up by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backbeat.api.throttle import InboundLimits
from backbeat.jobs.lifecycle import JobStore
from backbeat.jobs.runtime import JobRuntime


def job_runtime(request: Request) -> JobRuntime:
    runtime: JobRuntime = request.app.state.jobs
    return runtime


def job_store(runtime: Annotated[JobRuntime, Depends(job_runtime)]) -> JobStore:
    return runtime.store


JobStoreDep = Annotated[JobStore, Depends(job_store)]


JobRuntimeDep = Annotated[JobRuntime, Depends(job_runtime)]


def inbound_limits(request: Request) -> InboundLimits:
    limits: InboundLimits = request.app.state.inbound
    return limits


InboundDep = Annotated[InboundLimits, Depends(inbound_limits)]
