"""`InsightService` on SQLite and Postgres: a snapshot's insight is generated once and stored,
reused for the same request (the cache), regenerated when anything that wrote it differs or the
snapshot changed since, and never served across users."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from backbeat.clock import FakeClock
from backbeat.db.engine import Database
from backbeat.db.models import GeneratedInsight, ListeningSnapshot, User
from backbeat.domain.insights import (
    Generated,
    InsightGenerationFailed,
    InsightNotFound,
    InsightService,
    InvalidInsightRequest,
    OfflineProvider,
    SnapshotFacts,
    SnapshotNotFound,
)
from tests.domain.insights.samples import snapshot_columns


class CountingProvider:
    """The offline provider, counted, taking `seconds` on the fake clock, optionally held."""

    def __init__(self, clock: FakeClock, seconds: float = 1.5, model: str = "offline-v1") -> None:
        self.clock = clock
        self.seconds = seconds
        self.model = model
        self.name = "offline"
        self.calls: list[tuple[str, str, SnapshotFacts]] = []
        self.called = asyncio.Event()
        self.release: asyncio.Event | None = None
        self.failure: Exception | None = None

    async def generate(self, insight_type: str, tone: str, facts: SnapshotFacts) -> Generated:
        self.calls.append((insight_type, tone, facts))
        self.called.set()
        if self.release is not None:
            await self.release.wait()
        if self.failure is not None:
            raise self.failure
        self.clock.advance(self.seconds)
        output, _ = await OfflineProvider().generate(insight_type, tone, facts)
        return Generated(output, self.model)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp())


@pytest.fixture
def provider(clock: FakeClock) -> CountingProvider:
    return CountingProvider(clock)


@pytest.fixture
def service(database: Database, provider: CountingProvider, clock: FakeClock) -> InsightService:
    return InsightService(database, provider, clock)


async def add_snapshot(
    database: Database, clock: FakeClock, spotify_id: str = "listener", **columns: Any
) -> ListeningSnapshot:
    written = datetime.fromtimestamp(clock.time(), UTC) - timedelta(hours=1)
    async with database.sessions() as session, session.begin():
        user = User(spotify_id=spotify_id)
        session.add(user)
        await session.flush()
        values = snapshot_columns() | {"created_at": written, "updated_at": written} | columns
        snapshot = ListeningSnapshot(user_id=user.id, **values)
        session.add(snapshot)
    return snapshot


async def insights(database: Database) -> list[GeneratedInsight]:
    async with database.sessions() as session:
        rows = await session.scalars(select(GeneratedInsight).order_by(GeneratedInsight.created_at))
        return list(rows)


async def test_an_insight_is_stored_once_and_reused(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    first = await service.generate(snapshot.user_id, snapshot.id, "wellness", "direct")
    again = await service.generate(snapshot.user_id, snapshot.id, "wellness", "direct")
    assert again == first
    assert len(provider.calls) == 1
    [row] = await insights(database)
    expected, _ = await OfflineProvider().generate("wellness", "direct", provider.calls[0][2])
    assert row.id == first
    assert (row.user_id, row.snapshot_id) == (snapshot.user_id, snapshot.id)
    assert (row.insight_type, row.tone, row.provider, row.model, row.prompt_version) == (
        "wellness",
        "direct",
        "offline",
        "offline-v1",
        "wellness-v1",
    )
    assert row.content == expected.model_dump(mode="json")
    assert row.generation_ms == 1500
    assert row.created_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    stored = await service.get(snapshot.user_id, first)
    assert stored.content == row.content
    assert stored.generation_ms == 1500


async def test_the_provider_gets_the_snapshots_facts(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    await service.generate(snapshot.user_id, snapshot.id, "productivity")
    [(insight_type, tone, facts)] = provider.calls
    assert (insight_type, tone) == ("productivity", "coach")  # the type's default tone
    assert facts.snapshot_id == snapshot.id
    assert facts.peak_hours() == (9, 10, 22)
    assert facts.mean("energy") == 0.63


async def test_another_tone_type_or_model_is_a_new_insight(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    user, snap = snapshot.user_id, snapshot.id
    ids = {
        await service.generate(user, snap, "roast", "gentle"),
        await service.generate(user, snap, "roast", "savage"),
        await service.generate(user, snap, "weekly_summary", "neutral"),
    }
    provider.model = "offline-v2"
    ids.add(await service.generate(user, snap, "roast", "gentle"))
    assert len(ids) == 4
    assert len(provider.calls) == 4
    rows = await insights(database)
    assert [(row.tone, row.model) for row in rows if row.insight_type == "roast"] == [
        ("gentle", "offline-v1"),
        ("savage", "offline-v1"),
        ("gentle", "offline-v2"),
    ]


async def test_a_snapshot_updated_since_the_insight_gets_a_new_one(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    first = await service.generate(snapshot.user_id, snapshot.id, "wellness")
    clock.advance(60)
    rewritten = datetime.fromtimestamp(clock.time(), UTC)
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(ListeningSnapshot)
            .where(ListeningSnapshot.id == snapshot.id)
            .values(track_count=12, updated_at=rewritten)
        )
    clock.advance(60)
    second = await service.generate(snapshot.user_id, snapshot.id, "wellness")
    assert second != first
    assert provider.calls[-1][2].track_count == 12
    assert await service.generate(snapshot.user_id, snapshot.id, "wellness") == second


async def test_another_users_snapshot_is_not_found(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    mine = await add_snapshot(database, clock, "me")
    theirs = await add_snapshot(database, clock, "them")
    with pytest.raises(SnapshotNotFound) as raised:
        await service.generate(mine.user_id, theirs.id, "wellness")
    assert raised.value.snapshot_id == theirs.id
    with pytest.raises(SnapshotNotFound):
        await service.generate(mine.user_id, "no-such-snapshot", "wellness")
    assert provider.calls == []
    their_insight = await service.generate(theirs.user_id, theirs.id, "wellness")
    with pytest.raises(InsightNotFound):
        await service.get(mine.user_id, their_insight)


async def test_an_invalid_request_touches_nothing(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    with pytest.raises(InvalidInsightRequest) as raised:
        await service.generate(snapshot.user_id, snapshot.id, "wellness", "savage")
    assert raised.value.allowed == ("supportive", "neutral", "direct")
    with pytest.raises(InvalidInsightRequest):
        await service.generate(snapshot.user_id, snapshot.id, "horoscope")
    assert provider.calls == []
    assert await insights(database) == []


async def test_a_failed_generation_stores_nothing(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    provider.failure = InsightGenerationFailed("offline", "offline-v1", "broken")
    with pytest.raises(InsightGenerationFailed):
        await service.generate(snapshot.user_id, snapshot.id, "roast")
    assert await insights(database) == []
    provider.failure = None
    await service.generate(snapshot.user_id, snapshot.id, "roast")
    assert len(await insights(database)) == 1


async def test_identical_concurrent_requests_generate_once(
    service: InsightService, provider: CountingProvider, database: Database, clock: FakeClock
) -> None:
    snapshot = await add_snapshot(database, clock)
    provider.release = asyncio.Event()
    requests = [
        asyncio.create_task(service.generate(snapshot.user_id, snapshot.id, "roast", "savage"))
        for _ in range(3)
    ]
    await provider.called.wait()
    provider.release.set()
    assert len(set(await asyncio.gather(*requests))) == 1
    assert len(provider.calls) == 1
    assert not service._locks  # nobody waits: nothing kept


async def test_latest_snapshot(
    service: InsightService, database: Database, clock: FakeClock
) -> None:
    old = await add_snapshot(database, clock, "listener")
    async with database.sessions() as session, session.begin():
        newer = ListeningSnapshot(
            user_id=old.user_id,
            **snapshot_columns() | {"time_range": "long_term", "track_count": 7},
        )
        newer.snapshot_date = old.snapshot_date + timedelta(days=1)
        session.add(newer)
    latest = await service.latest_snapshot(old.user_id)
    assert latest is not None
    assert (latest.snapshot_id, latest.track_count) == (newer.id, 7)
    short = await service.latest_snapshot(old.user_id, "short_term")
    assert short is not None
    assert short.snapshot_id == old.id
    assert await service.latest_snapshot(old.user_id, "medium_term") is None
    assert await service.latest_snapshot("nobody") is None
    with pytest.raises(InvalidInsightRequest) as raised:
        await service.latest_snapshot(old.user_id, "forever")
    assert raised.value.allowed == ("short_term", "medium_term", "long_term")
