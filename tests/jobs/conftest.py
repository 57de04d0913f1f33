"""Job fixtures: a fake clock, the memory store, a dispatcher that records instead of enqueueing,
and isolated Huey queues (SQLite in a temp dir, or Redis DB 15 under a unique prefix)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backbeat.clock import FakeClock
from backbeat.config import JobsSettings
from backbeat.jobs import JobQueues, MemoryJobStore
from tests.jobs.fakes import RecordingDispatcher


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def jobs_settings(tmp_path: Path) -> JobsSettings:
    return JobsSettings(var_dir=str(tmp_path / "var"), prefix=f"bbtest_{uuid.uuid4().hex[:8]}")


@pytest.fixture(params=["sqlite", "redis"])
def queues(request: pytest.FixtureRequest, jobs_settings: JobsSettings) -> Iterator[JobQueues]:
    """Real, isolated Huey storages: SqliteHuey files in a temp dir, or PriorityRedisHuey."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    built = JobQueues.build(jobs_settings, redis_url=url)
    yield built
    built.flush()  # Redis keys carry the unique prefix; drop them
    built.close()
