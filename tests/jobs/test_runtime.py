"""The job runtime: plugins contribute kinds and cron handlers; the scan spread follows the
budget in the settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from backbeat.config import JobsSettings, RateLimitSettings, Settings
from backbeat.db.engine import Database
from backbeat.db.models import User
from backbeat.errors import ConfigurationError
from backbeat.jobs import JobKind, JobQueues, JobRecord, LoopBridge
from backbeat.jobs.runtime import Contribution, JobContext, open_runtime, scan_rate


async def nothing(job: JobRecord) -> Any:
    return None


def scans(context: JobContext) -> Contribution:
    async def ingest_all_users() -> int:
        return 0

    return Contribution(
        kinds=[JobKind("scan", "spotify", nothing)], cron={"ingest_all_users": ingest_all_users}
    )


@pytest.fixture
def jobs_settings(tmp_path: Path, settings: Settings) -> Settings:
    return settings.model_copy(
        update={"jobs": JobsSettings(var_dir=str(tmp_path / "var")), "redis_url": None}
    )


async def test_plugins_contribute_kinds_and_cron_handlers(
    jobs_settings: Settings, database: Database
) -> None:
    queues = JobQueues.build(jobs_settings.jobs, immediate=True)
    async with open_runtime(
        jobs_settings, LoopBridge.attach(), database, scheduler=True, plugins=[scans], queues=queues
    ) as runtime:
        assert set(runtime.kinds) == {"scan"}
        assert set(runtime.cron) == {
            "ingest_all_users",
            "reap_stale_jobs",
            "cleanup_jobs",
            "failed_job_monitor",
        }
        due = queues.cron.read_periodic(datetime(2026, 12, 2, 2, 0))  # 02:00 UTC, naive
        assert {type(task).__name__ for task in due} >= {"cron_ingest_all_users"}


@pytest.mark.parametrize(
    ("plugins", "problem"),
    [
        (["nowhere"], "is not of the form 'module:function'"),
        (["backbeat.nowhere:kinds"], "cannot be loaded"),
        (["backbeat.jobs:ACTIVE"], "is not callable"),
        (["tests.jobs.test_runtime:scans", "tests.jobs.test_runtime:scans"], "comes twice"),
    ],
)
async def test_bad_plugins_are_configuration_errors(
    jobs_settings: Settings, database: Database, plugins: list[str], problem: str
) -> None:
    broken = jobs_settings.model_copy(
        update={"jobs": jobs_settings.jobs.model_copy(update={"plugins": plugins})}
    )
    queues = JobQueues.build(broken.jobs, immediate=True)
    with pytest.raises(ConfigurationError, match=problem):
        async with open_runtime(broken, LoopBridge.attach(), database, queues=queues):
            pass


async def test_a_scan_spreads_over_its_share_of_the_read_budget(
    jobs_settings: Settings, database: Database
) -> None:
    # 80 calls per 30 s (+ 0.25 s margin), half for scans: 1.32 calls/s; 30 calls per user.
    assert scan_rate(jobs_settings) == pytest.approx(80 / 30.25 * 0.5)
    slow = jobs_settings.model_copy(
        update={"ratelimit": RateLimitSettings(spotify_read="20/30", margin=0)}
    )
    assert scan_rate(slow) == pytest.approx(20 / 30 * 0.5)
    queues = JobQueues.build(jobs_settings.jobs, immediate=True)
    async with open_runtime(
        jobs_settings, LoopBridge.attach(), database, plugins=[scans], queues=queues
    ) as runtime:
        async with database.sessions() as session, session.begin():
            users = [User(spotify_id=f"scanned-{n}") for n in range(3)]
            session.add_all(users)
        spread = await runtime.enqueue_scan([user.id for user in users], "scan")
    starts = [enqueued.job.run_at for enqueued in spread]
    gap = timedelta(seconds=30 / scan_rate(jobs_settings))  # about 22.7 s between users
    assert [later - earlier for earlier, later in pairwise(starts)] == [gap, gap]
