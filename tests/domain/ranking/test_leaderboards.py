"""Per-artist leaderboards on SQLite and Postgres, with the database's lock and Redis's."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backbeat.clock import FakeClock
from backbeat.db.engine import Database
from backbeat.db.models import Comparison, RankingSession, SessionSong, Song, User
from backbeat.domain.ranking import leaderboards
from backbeat.domain.ranking.leaderboards import (
    ArtistLock,
    DatabaseArtistLock,
    LeaderboardBusy,
    LeaderboardService,
    RedisArtistLock,
    Refresh,
)
from backbeat.errors import NotFound

ARTIST = "4artist0000000000000001"
OTHER = "4artist0000000000000002"


@dataclass
class Catalog:
    sessions: list[str]  # ranking sessions of several users, each holding every song
    songs: list[int]  # the artist's songs
    stranger: int  # another artist's song, in every session too


async def seed(database: Database, users: int = 3, per_user: int = 2, songs: int = 6) -> Catalog:
    async with database.sessions() as session, session.begin():
        rows = [
            Song(
                spotify_id=f"track{i:017d}",
                isrc=f"USABC26{i:05d}",
                title=f"Song {i}",
                normalized_title=f"song {i}",
                artist_spotify_id=ARTIST,
                artist_name="The Artist",
            )
            for i in range(songs)
        ]
        stranger = Song(
            spotify_id="stranger0000000000000",
            title="Elsewhere",
            normalized_title="elsewhere",
            artist_spotify_id=OTHER,
            artist_name="Someone Else",
        )
        people = [User(spotify_id=f"user{u:04d}") for u in range(users)]
        session.add_all([*rows, stranger, *people])
        await session.flush()
        ranking = [
            RankingSession(user_id=person.id, name="mine", artist_spotify_id=ARTIST)
            for person in people
            for _ in range(per_user)
        ]
        session.add_all(ranking)
        await session.flush()
        session.add_all(
            SessionSong(session_id=r.id, song_id=song.id)
            for r in ranking
            for song in [*rows, stranger]
        )
    return Catalog([r.id for r in ranking], [s.id for s in rows], stranger.id)


async def duel(
    database: Database, session_id: str, winner: int, loser: int, outcome: str = "win"
) -> int:
    async with database.sessions() as session, session.begin():
        row = Comparison(session_id=session_id, winner_id=winner, loser_id=loser, outcome=outcome)
        session.add(row)
    return row.id


async def undo(database: Database, *ids: int) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(Comparison).where(Comparison.id.in_(ids)).values(undone_at=datetime.now(UTC))
        )


@pytest.fixture(params=["database", "redis"])
async def lock(request: pytest.FixtureRequest, database: Database) -> AsyncIterator[ArtistLock]:
    if request.param == "database":
        yield DatabaseArtistLock(database)
        return
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield RedisArtistLock(client, prefix=prefix, ttl=30)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def order(entries: Sequence[leaderboards.LeaderboardEntry]) -> list[int]:
    return [entry.song_id for entry in entries]


async def test_a_board_pools_every_users_counted_duels(database: Database) -> None:
    catalog = await seed(database)
    a, b, c, d, *_ = catalog.songs
    first, second, third, *_ = catalog.sessions
    for session_id in (first, second, third):
        await duel(database, session_id, a, b)
        await duel(database, session_id, b, c)
        await duel(database, session_id, a, c)
    await duel(database, second, c, d, "tie")
    await duel(database, first, c, d)
    await duel(database, third, d, a, "skip")  # no information
    await duel(database, third, a, catalog.stranger)  # not between the artist's songs
    await undo(database, await duel(database, first, d, a))  # taken back
    service = LeaderboardService(database, FakeClock(), DatabaseArtistLock(database))

    view = await service.compute(ARTIST)

    assert view is not None
    assert (view.artist_name, view.comparison_count, view.session_count) == ("The Artist", 11, 3)
    assert order(view.entries) == [a, b, c, d]
    assert [e.rank for e in view.entries] == [1, 2, 3, 4]
    assert [e.comparison_count for e in view.entries] == [6, 6, 8, 2]
    assert view.entries[0].score > view.entries[-1].score
    assert view.convergence is not None
    assert 0 <= view.convergence <= 1
    assert await service.get(ARTIST) == view


async def test_recompute_replaces_the_board(database: Database) -> None:
    catalog = await seed(database)
    a, b, c, *_ = catalog.songs
    kept = await duel(database, catalog.sessions[0], a, b)
    dropped = await duel(database, catalog.sessions[1], c, a)
    service = LeaderboardService(database, FakeClock(), DatabaseArtistLock(database))
    assert await service.compute(ARTIST) is not None

    await undo(database, dropped)
    view = await service.compute(ARTIST)
    assert view is not None
    assert order(view.entries) == [a, b]
    assert order((await service.get(ARTIST)).entries) == [a, b]

    await undo(database, kept)
    assert await service.compute(ARTIST) is None
    with pytest.raises(NotFound):
        await service.get(ARTIST)


async def test_releases_of_one_recording_share_an_entry(database: Database) -> None:
    catalog = await seed(database, songs=3)
    a, b, _ = catalog.songs
    async with database.sessions() as session, session.begin():
        deluxe = Song(
            spotify_id="deluxe000000000000000",
            isrc="USABC2600000",  # song a's recording, on another album
            title="Song 0 - Deluxe Edition",
            normalized_title="song 0",
            artist_spotify_id=ARTIST,
            artist_name="The Artist",
            album_name="Deluxe",
        )
        session.add(deluxe)
        await session.flush()
        session.add(SessionSong(session_id=catalog.sessions[1], song_id=deluxe.id))
    await duel(database, catalog.sessions[0], a, b)
    await duel(database, catalog.sessions[1], deluxe.id, b)
    service = LeaderboardService(database, FakeClock(), DatabaseArtistLock(database))

    view = await service.compute(ARTIST)

    assert view is not None
    assert [(e.song_id, e.comparison_count) for e in view.entries] == [(a, 2), (b, 2)]


async def test_refresh_computes_at_most_once_per_interval(database: Database) -> None:
    catalog = await seed(database)
    a, b, c, *_ = catalog.songs
    clock = FakeClock()
    service = LeaderboardService(database, clock, DatabaseArtistLock(database))
    assert (await service.refresh(ARTIST, 60)).status == "fresh"  # nothing to rank yet

    await duel(database, catalog.sessions[0], a, b)
    done = await service.refresh(ARTIST, 60)
    assert (done.status, done.retry_at) == ("computed", None)
    assert done.view is not None
    assert done.view.comparison_count == 1
    assert (await service.refresh(ARTIST, 60)).status == "fresh"

    await duel(database, catalog.sessions[1], b, c)
    clock.advance(59)
    later = await service.refresh(ARTIST, 60)
    assert (later.status, later.retry_at) == ("deferred", done.view.computed_at.timestamp() + 60)
    assert (await service.get(ARTIST)).comparison_count == 1

    clock.advance(1)
    again = await service.refresh(ARTIST, 60)
    assert again.status == "computed"
    assert again.view is not None
    assert again.view.comparison_count == 2


async def test_the_lock_keeps_a_second_compute_out(
    database: Database, lock: ArtistLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = await seed(database)
    await duel(database, catalog.sessions[0], *catalog.songs[:2])
    started, release = threading.Event(), threading.Event()
    real_fit = leaderboards.fit

    def slow_fit(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(10)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(leaderboards, "fit", slow_fit)
    clock = FakeClock()
    service = LeaderboardService(database, clock, lock)
    first = asyncio.create_task(service.refresh(ARTIST, 0))
    assert await asyncio.to_thread(started.wait, 10)

    second = await service.refresh(ARTIST, 30)
    assert (second.status, second.retry_at) == ("busy", clock.time() + 30)
    with pytest.raises(LeaderboardBusy):
        await service.compute(ARTIST)
    release.set()

    done = await first
    assert done.status == "computed"
    assert done.view is not None
    assert done.view.comparison_count == 1
    assert (await service.refresh(ARTIST, 0)).status == "fresh"


async def test_duels_during_a_compute_make_it_ask_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duels committed after a compute's snapshot, whose own refreshes found it running (or
    were folded into its job): only the compute can tell, and it does."""
    catalog = await seed(database)
    a, b, c, *_ = catalog.songs
    await duel(database, catalog.sessions[0], a, b)
    started, release = threading.Event(), threading.Event()
    real_fit = leaderboards.fit

    def slow_fit(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(10)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(leaderboards, "fit", slow_fit)
    clock = FakeClock()
    service = LeaderboardService(database, clock, DatabaseArtistLock(database))
    running = asyncio.create_task(service.refresh(ARTIST, 10))
    assert await asyncio.to_thread(started.wait, 10)
    await asyncio.gather(*(duel(database, s, b, c) for s in catalog.sessions))
    release.set()

    done = await running
    assert done.view is not None
    assert done.view.comparison_count == 1
    assert done.retry_at == done.view.computed_at.timestamp() + 10
    clock.advance(10)
    again = await service.refresh(ARTIST, 10)
    assert (again.status, again.retry_at) == ("computed", None)
    assert (await service.get(ARTIST)).comparison_count == 1 + len(catalog.sessions)


async def test_concurrent_duels_are_never_lost(database: Database, lock: ArtistLock) -> None:
    """Each duel's job refreshes and, as told, again at `retry_at`; when every job is done the
    board counts all 50 duels without anyone computing it once more."""
    catalog = await seed(database, users=4, per_user=2, songs=8)
    clock = FakeClock()
    service = LeaderboardService(database, clock, lock)
    rng = random.Random(7)
    plan = [
        (rng.choice(catalog.sessions), *rng.sample(catalog.songs, 2), rng.choice(["win", "tie"]))
        for _ in range(50)
    ]
    computed: list[float] = []  # when each compute took its snapshot

    async def refresh() -> Refresh:
        result = await service.refresh(ARTIST, 5)
        if result.view is not None:
            computed.append(result.view.computed_at.timestamp())
        return result

    async def duel_job(session_id: str, winner: int, loser: int, outcome: str) -> None:
        await duel(database, session_id, winner, loser, outcome)
        result = await refresh()
        while result.retry_at is not None:
            await clock.sleep(max(0.0, result.retry_at - clock.time()))
            result = await refresh()

    async def sweeper() -> None:  # refreshes that ignore retry_at, interleaved with the duels
        for _ in range(10):
            await refresh()
            await asyncio.sleep(0)

    await asyncio.gather(*(duel_job(*p) for p in plan), *(sweeper() for _ in range(3)))

    board = await service.get(ARTIST)
    assert board.comparison_count == 50
    assert sum(e.comparison_count for e in board.entries) == 100
    assert computed
    assert all(b - a >= 5 for a, b in itertools.pairwise(sorted(computed)))  # once per interval
    clock.advance(5)
    final = await service.compute(ARTIST)
    assert final is not None
    assert final.comparison_count == 50


async def test_redis_lock_deletes_only_its_own_key(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    client = aioredis.Redis.from_url(redis_url)
    other = aioredis.Redis.from_url(redis_url)
    session = cast(AsyncSession, None)  # Redis holds the lock, not the transaction
    try:
        lock, rival = (
            RedisArtistLock(client, prefix=prefix, ttl=30),
            RedisArtistLock(other, prefix=prefix),
        )
        async with lock.hold(session, ARTIST) as held:
            assert held
            assert 0 < await client.pttl(prefix + ARTIST) <= 30_000
            async with rival.hold(session, ARTIST) as also:
                assert not also
            assert await client.exists(prefix + ARTIST)  # the refused one left it alone
        assert not await client.exists(prefix + ARTIST)

        async with lock.hold(session, ARTIST) as held:
            assert held
            await client.set(prefix + ARTIST, "someone else's")  # ours expired, theirs now
        assert await client.get(prefix + ARTIST) == b"someone else's"
    finally:
        await client.delete(prefix + ARTIST)
        await client.aclose()
        await other.aclose()
