"""A job plugin for a `backbeat serve` under test (`BACKBEAT_JOBS__PLUGINS`): appends a line to
the file named by `$SESSION_PROBE` for every session lookup — a SELECT on `app_sessions` — the
process sends its database, so a test in another process can count the round trips a burst of
requests cost. It contributes no jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event

from backbeat.jobs.runtime import Contribution, JobContext

ENV = "SESSION_PROBE"


def plugin(context: JobContext) -> Contribution:
    fd = os.open(os.environ[ENV], os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def before_execute(*args: Any) -> None:
        statement = str(args[2]).lstrip()
        if statement.upper().startswith("SELECT") and "FROM app_sessions" in statement:
            os.write(fd, b"1\n")  # unbuffered: the test reads while the server runs

    event.listen(context.database.engine.sync_engine, "before_cursor_execute", before_execute)
    return Contribution()


def lookups(probe: Path) -> int:
    """Session lookups the probed process has made so far."""
    return len(probe.read_bytes().splitlines()) if probe.exists() else 0
