"""The apps' periodic work through the real runtime (Huey in immediate mode, the simulator
in-process): the daily scan of every user, the token-refresh sweep, the weekly summaries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from backbeat.config import (
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.db.models import BackgroundJob, GeneratedInsight, ListeningSnapshot, User
from backbeat.domain.services import Services, open_services
from backbeat.jobs import JobQueues, LoopBridge
from backbeat.jobs.runtime import JobRuntime, open_runtime
from backbeat.jobs.tasks import BUILTIN_PLUGINS
from backbeat.simulator import create_app as create_simulator
from backbeat.spotify.auth import AccessToken
from tests.simulator.sim_client import user_grant

SIM = "http://sim"


@pytest.fixture
def transport() -> httpx.ASGITransport:
    """The simulator, in-process."""
    return httpx.ASGITransport(app=create_simulator(SimulatorSettings(artists=60, users=20)))


@pytest.fixture
async def system(
    tmp_path: Path, token_key: str, transport: httpx.ASGITransport
) -> AsyncIterator[tuple[Services, JobRuntime]]:
    settings = Settings(
        environment="test",
        redis_url=None,
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'tasks.db'}"),
        security=SecuritySettings(token_keys=[token_key]),
        auth=AuthSettings(session_secret="tasks-secret"),
        spotify=SpotifySettings(api_url=f"{SIM}/v1", accounts_url=SIM),
        reccobeats=ReccoBeatsSettings(url=f"{SIM}/reccobeats"),
        jobs=JobsSettings(var_dir=str(tmp_path / "var"), inter_user_delay=0),
    )
    queues = JobQueues.build(settings.jobs, immediate=True)  # each job runs inside enqueue
    async with (
        open_services(settings, transport=transport) as services,
        open_runtime(
            settings,
            LoopBridge.attach(),
            services.database,
            plugins=BUILTIN_PLUGINS,
            queues=queues,
            services=services,
            scheduler=True,
        ) as runtime,
    ):
        yield services, runtime


async def logged_in(
    services: Services, transport: httpx.ASGITransport, sim_user: str, *, expires_in: float
) -> str:
    """The user consents at the simulator; backbeat stores the tokens."""
    async with httpx.AsyncClient(transport=transport, base_url=SIM) as sim:
        grant = await user_grant(sim, sim_user)
    user = await services.users.find_or_create(sim_user)
    token = AccessToken(
        grant["access_token"], services.clock.time() + expires_in, grant["refresh_token"]
    )
    await services.tokens.save(user.id, token)
    return user.id


async def test_the_daily_scan_ingests_every_user_who_needs_no_login(
    system: tuple[Services, JobRuntime], transport: httpx.ASGITransport
) -> None:
    services, runtime = system
    first = await logged_in(services, transport, "user0001", expires_in=3600)
    second = await logged_in(services, transport, "user0002", expires_in=3600)
    await services.tokens.refused(second, "revoked")
    assert await runtime.cron["ingest_all_users"]() == 1
    async with services.database.sessions() as session:
        ranges = set(
            await session.scalars(
                select(ListeningSnapshot.time_range).where(ListeningSnapshot.user_id == first)
            )
        )
        scanned = await session.scalars(select(BackgroundJob.user_id))
        assert set(scanned) == {first}
    assert ranges == {"short_term", "medium_term", "long_term"}


async def test_tokens_about_to_expire_are_refreshed(
    system: tuple[Services, JobRuntime], transport: httpx.ASGITransport
) -> None:
    services, runtime = system
    soon = await logged_in(services, transport, "user0003", expires_in=300)  # within 10 min
    later = await logged_in(services, transport, "user0004", expires_in=3000)
    before = await services.tokens.load(later)
    assert await runtime.cron["refresh_tokens"]() == 1
    refreshed = await services.tokens.load(soon)
    assert refreshed is not None
    assert refreshed.expires_at > services.clock.time() + 3000
    assert await services.tokens.load(later) == before  # not due: left alone


async def test_weekly_summaries_for_users_with_a_recent_snapshot(
    system: tuple[Services, JobRuntime],
) -> None:
    services, runtime = system
    today = datetime.now(UTC).date()
    active = await services.users.find_or_create("listener")
    idle = await services.users.find_or_create("away")
    async with services.database.sessions() as session, session.begin():
        session.add(snapshot(active, today - timedelta(days=1)))
        session.add(snapshot(idle, today - timedelta(days=30)))
    assert await runtime.cron["weekly_summaries"]() == 2  # one job each; the idle one skips
    async with services.database.sessions() as session:
        written = list(await session.scalars(select(GeneratedInsight)))
        results = {job.user_id: job.result for job in await session.scalars(select(BackgroundJob))}
    assert [(i.user_id, i.insight_type) for i in written] == [(active.id, "weekly_summary")]
    assert results[idle.id] == {"skipped": "no snapshot in the last 7 days"}


def snapshot(user: User, day: date) -> ListeningSnapshot:
    return ListeningSnapshot(
        user_id=user.id,
        snapshot_date=day,
        time_range="short_term",
        track_count=12,
        genres={"indie pop": 5, "jazz": 3},
        audio_features={"energy": {"mean": 0.6, "std": 0.1, "min": 0.3, "max": 0.9, "count": 12}},
        mood_patterns={},
        genre_diversity=0.8,
        artist_diversity=0.7,
        mood_diversity=0.5,
    )
