"""Job settings: defaults from the seeds, environment overrides, cron specs checked on load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backbeat.config import JobsSettings, Settings
from backbeat.jobs import RetryPolicy


def test_defaults_follow_the_seeds() -> None:
    jobs = Settings().jobs
    assert jobs.queues == ("spotify", "default", "leaderboard", "insights")
    assert jobs.var_dir == "var"
    policy = RetryPolicy.from_settings(jobs)
    assert [policy.delay(n) for n in (1, 2, 3)] == [120, 240, 480]
    assert policy.max_attempts == 4
    assert (jobs.max_concurrent_users, jobs.inter_user_delay) == (5, 5.0)
    assert jobs.cron() == {
        "ingest_all_users": "0 2 * * *",
        "weekly_summaries": "0 9 * * 0",
        "cleanup_jobs": "0 3 * * 1",
        "refresh_tokens": "*/30 * * * *",
        "failed_job_monitor": "*/5 * * * *",
        "organize_all_users": "0 2 * * *",
        "reap_stale_jobs": "* * * * *",
    }


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBEAT_JOBS__CRON_INGEST_ALL_USERS", "30 3 * * *")
    monkeypatch.setenv("BACKBEAT_JOBS__MAX_CONCURRENT_USERS", "10")
    monkeypatch.setenv("BACKBEAT_JOBS__REAPER_INTERVAL", "120")
    jobs = Settings().jobs
    assert jobs.cron()["ingest_all_users"] == "30 3 * * *"
    assert jobs.cron()["reap_stale_jobs"] == "*/2 * * * *"
    assert jobs.max_concurrent_users == 10


def test_malformed_cron_specs_and_intervals_are_refused() -> None:
    with pytest.raises(ValidationError, match="5-field cron"):
        JobsSettings(cron_weekly_summaries="every sunday")
    with pytest.raises(ValidationError, match="multiple"):
        JobsSettings(reaper_interval=90)
