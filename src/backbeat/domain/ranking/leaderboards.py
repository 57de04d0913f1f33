"""Per-artist leaderboards: one Bradley–Terry fit (`model.fit`) over every user's duels between
the artist's songs, rebuilt on the leaderboard queue at most once per interval per artist.

The song ranker this replaces (seeds 001, 003) lost leaderboard updates under concurrency and
kept its "computed recently" state in one process. Here a refresh holds the artist's
`ArtistLock`, shared by every process, while it reads, fits and writes the board and its entries
in one transaction, and tells its caller when duels may still be uncounted.

Guarantee: a refresh called after a duel committed either writes a board from a snapshot taken
after that commit, or returns `retry_at`; a caller that calls again at every `retry_at` until
there is none ends with a board that counts the duel. `retry_at` is None only when the board's
`comparison_count` equals the duels that count at the end of the call. Counts decide, not
clocks (processes' clocks disagree), so an undo and a new duel that both land between a snapshot
and every later check cancel out, unnoticed until the next duel.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import redis.asyncio as aioredis
from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backbeat.clock import Clock
from backbeat.db.engine import Database
from backbeat.db.models import ArtistLeaderboard, ArtistLeaderboardEntry, Comparison, Song
from backbeat.domain.ranking.dedup import preference, same_recording, song_release
from backbeat.domain.ranking.model import Duel, fit
from backbeat.errors import BackbeatError, NotFound

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
COUNTED = ("win", "tie")  # a skip says nothing about the order
BUSY_RETRY = 1.0  # seconds: the least a caller waits for another process's compute
LOCK_KEY = "backbeat:leaderboard:"

# Delete only our own token: after an expiry the key may belong to the next holder.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderboardBusy(BackbeatError):
    """Another process is computing this artist's board right now."""

    def __init__(self, artist_spotify_id: str) -> None:
        super().__init__(f"the leaderboard of {artist_spotify_id} is being computed")
        self.artist_spotify_id = artist_spotify_id


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    song_id: int
    spotify_id: str
    title: str
    album_name: str | None
    image_url: str | None
    rank: int  # 1 is the best
    score: float  # natural-log strength, mean 0 over the board
    comparison_count: int  # counted duels the song took part in (any of its releases)


@dataclass(frozen=True, slots=True)
class LeaderboardView:
    artist_spotify_id: str
    artist_name: str
    session_count: int
    comparison_count: int
    convergence: float | None
    computed_at: datetime  # when its snapshot of the duels was taken
    entries: tuple[LeaderboardEntry, ...]


@dataclass(frozen=True, slots=True)
class Refresh:
    """`computed`: written now; `fresh`: the stored board counts every duel; `deferred`: it was
    computed less than the interval ago; `busy`: another process holds the lock."""

    status: Literal["computed", "fresh", "deferred", "busy"]
    retry_at: float | None = None  # epoch seconds to call again at; None: nothing uncounted
    view: LeaderboardView | None = None  # the new board (None when no duels are left)


class ArtistLock(Protocol):
    def hold(
        self, session: AsyncSession, artist_spotify_id: str
    ) -> AbstractAsyncContextManager[bool]:
        """True inside the block if this caller holds the artist's lock, False if another does;
        never waits. The compute runs and commits on `session` inside the block."""
        ...


class RedisArtistLock:
    """`SET key token NX PX ttl`, released by compare-and-delete. A holder that dies frees it
    after `ttl`; a compute outliving `ttl` could overlap the next one, so keep it generous."""

    def __init__(
        self, redis: aioredis.Redis, *, prefix: str = "bb:lock:leaderboard:", ttl: float = 300.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self._release = redis.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, session: AsyncSession, artist_spotify_id: str) -> AsyncIterator[bool]:
        key, token = self.prefix + artist_spotify_id, secrets.token_hex(16)
        if not await self.redis.set(key, token, nx=True, px=max(1, round(self.ttl * 1000))):
            yield False
            return
        try:
            yield True
        finally:
            await self._release(keys=[key], args=[token])


class DatabaseArtistLock:
    """Postgres: `pg_try_advisory_xact_lock` in the compute's transaction, so its commit or
    rollback (or a dead connection) releases it. SQLite serves one machine: a lock in this
    object, so a process shares one instance. Processes sharing one SQLite file are not
    excluded from each other; each still writes a whole board, and the one that wrote an older
    snapshot last sees the count moved and asks to be called again."""

    def __init__(self, database: Database) -> None:
        self.postgres = database.engine.dialect.name == "postgresql"
        self._held: set[str] = set()

    @asynccontextmanager
    async def hold(self, session: AsyncSession, artist_spotify_id: str) -> AsyncIterator[bool]:
        if self.postgres:
            sql = text("SELECT pg_try_advisory_xact_lock(hashtext(:key))")
            yield bool(await session.scalar(sql, {"key": LOCK_KEY + artist_spotify_id}))
            return
        if artist_spotify_id in self._held:
            yield False
            return
        self._held.add(artist_spotify_id)
        try:
            yield True
        finally:
            self._held.discard(artist_spotify_id)


def artist_lock(database: Database, redis: aioredis.Redis | None = None) -> ArtistLock:
    """Redis when the deployment has it (every process shares it), else the database."""
    return RedisArtistLock(redis) if redis is not None else DatabaseArtistLock(database)


def _counted(query: Q, artist_spotify_id: str) -> Q:
    """`query` over the duels that count: not undone, not skipped, both songs the artist's."""
    winner, loser = aliased(Song), aliased(Song)
    return (
        query.select_from(Comparison)
        .join(winner, winner.id == Comparison.winner_id)
        .join(loser, loser.id == Comparison.loser_id)
        .where(
            winner.artist_spotify_id == artist_spotify_id,
            loser.artist_spotify_id == artist_spotify_id,
            Comparison.undone_at.is_(None),
            Comparison.outcome.in_(COUNTED),
        )
    )


def _recordings(songs: Sequence[Song]) -> dict[int, Song]:
    """Song id → the release that stands for its recording across sessions: users' sessions
    may hold different releases (deluxe, remaster) of one song; the board shows it once."""
    releases = {song.id: song_release(song) for song in songs}
    kept: list[Song] = []
    chosen: dict[int, Song] = {}
    for song in sorted(songs, key=lambda s: preference(releases[s.id])):
        same = (k for k in kept if same_recording(releases[song.id], releases[k.id]))
        chosen[song.id] = next(same, None) or song
        if chosen[song.id] is song:
            kept.append(song)
    return chosen


class LeaderboardService:
    def __init__(self, database: Database, clock: Clock, lock: ArtistLock) -> None:
        self.database = database
        self.clock = clock
        self.lock = lock

    async def get(self, artist_spotify_id: str) -> LeaderboardView:
        async with self.database.sessions() as session:
            board = await session.get(ArtistLeaderboard, artist_spotify_id)
            if board is None:
                raise NotFound("leaderboard", artist_spotify_id)
            rows = await session.execute(
                select(ArtistLeaderboardEntry, Song)
                .join(Song, Song.id == ArtistLeaderboardEntry.song_id)
                .where(ArtistLeaderboardEntry.artist_spotify_id == artist_spotify_id)
                .order_by(ArtistLeaderboardEntry.rank)
            )
            entries = [_entry(song, e.rank, e.score, e.comparison_count) for e, song in rows]
        return _view(board, entries)

    async def compute(self, artist_spotify_id: str) -> LeaderboardView | None:
        """Rebuild the board now, whatever its age; None (and no board) when no duel counts.
        Raises `LeaderboardBusy` while another process computes it."""
        async with (
            self.database.sessions() as session,
            self.lock.hold(session, artist_spotify_id) as held,
        ):
            if not held:
                raise LeaderboardBusy(artist_spotify_id)
            view, _ = await self._compute(session, artist_spotify_id)
        return view

    async def refresh(self, artist_spotify_id: str, min_interval: float) -> Refresh:
        """Compute unless the board counts every duel, was computed less than `min_interval`
        seconds ago, or another process is computing it (see the module's guarantee)."""
        async with self.database.sessions() as session:
            skip = await self._skip(session, artist_spotify_id, min_interval)
        if skip is not None:
            return skip
        async with (
            self.database.sessions() as session,
            self.lock.hold(session, artist_spotify_id) as held,
        ):
            if not held:
                return Refresh("busy", self.clock.time() + max(min_interval, BUSY_RETRY))
            # Again under the lock: another process may have written it since.
            skip = await self._skip(session, artist_spotify_id, min_interval)
            if skip is not None:
                return skip
            view, seen = await self._compute(session, artist_spotify_id)
        async with self.database.sessions() as session:
            moved = await self._count(session, artist_spotify_id) != seen
        started = view.computed_at.timestamp() if view else self.clock.time()
        return Refresh("computed", started + min_interval if moved else None, view)

    async def _count(self, session: AsyncSession, artist_spotify_id: str) -> int:
        return int(await session.scalar(_counted(select(func.count()), artist_spotify_id)) or 0)

    async def _skip(
        self, session: AsyncSession, artist_spotify_id: str, min_interval: float
    ) -> Refresh | None:
        board = await session.get(ArtistLeaderboard, artist_spotify_id)
        counted = await self._count(session, artist_spotify_id)
        if counted == (board.comparison_count if board else 0):
            return Refresh("fresh")
        if board is not None:
            due = board.computed_at.timestamp() + min_interval
            if self.clock.time() < due:
                return Refresh("deferred", due)
        return None

    async def _compute(
        self, session: AsyncSession, artist_spotify_id: str
    ) -> tuple[LeaderboardView | None, int]:
        """Fit and write on the lock holder's session; the view and the duels it counted."""
        computed_at = datetime.fromtimestamp(self.clock.time(), UTC)  # before the snapshot
        query = select(
            Comparison.session_id, Comparison.winner_id, Comparison.loser_id, Comparison.outcome
        )
        duels = (await session.execute(_counted(query, artist_spotify_id))).all()
        if not duels:
            await session.execute(
                delete(ArtistLeaderboard).where(
                    ArtistLeaderboard.artist_spotify_id == artist_spotify_id
                )  # its entries go with it (ON DELETE CASCADE)
            )
            await session.commit()
            return None, 0
        ids = {song_id for duel in duels for song_id in (duel.winner_id, duel.loser_id)}
        songs = list(await session.scalars(select(Song).where(Song.id.in_(ids))))
        recording = _recordings(songs)
        pooled = [
            Duel(recording[d.winner_id].id, recording[d.loser_id].id, d.outcome)
            for d in duels
            if recording[d.winner_id] is not recording[d.loser_id]  # one session held both
        ]
        kept = {song.id: song for song in recording.values()}
        # CPU-bound (choix): off the event loop, and before the first write, which on SQLite
        # takes the database's one write lock until the commit.
        result = await asyncio.to_thread(fit, sorted(kept), pooled)
        played = [r for r in result.ranking if r.wins + r.losses + r.ties]
        entries = [
            _entry(kept[r.song_id], rank, r.score, r.wins + r.losses + r.ties)
            for rank, r in enumerate(played, start=1)
        ]
        await session.execute(
            delete(ArtistLeaderboardEntry).where(
                ArtistLeaderboardEntry.artist_spotify_id == artist_spotify_id
            )
        )
        board = await session.get(ArtistLeaderboard, artist_spotify_id)
        if board is None:
            board = ArtistLeaderboard(artist_spotify_id=artist_spotify_id)
            session.add(board)
        board.artist_name = songs[0].artist_name
        board.session_count = len({duel.session_id for duel in duels})
        board.comparison_count = len(duels)
        board.convergence = result.convergence
        board.computed_at = computed_at
        session.add_all(
            ArtistLeaderboardEntry(
                artist_spotify_id=artist_spotify_id,
                song_id=e.song_id,
                rank=e.rank,
                score=e.score,
                comparison_count=e.comparison_count,
            )
            for e in entries
        )
        await session.commit()
        return _view(board, entries), len(duels)


def _entry(song: Song, rank: int, score: float, comparisons: int) -> LeaderboardEntry:
    return LeaderboardEntry(
        song.id, song.spotify_id, song.title, song.album_name, song.image_url, rank, score,
        comparisons,
    )  # fmt: skip


def _view(board: ArtistLeaderboard, entries: Sequence[LeaderboardEntry]) -> LeaderboardView:
    return LeaderboardView(
        board.artist_spotify_id, board.artist_name, board.session_count, board.comparison_count,
        board.convergence, board.computed_at, tuple(entries),
    )  # fmt: skip
