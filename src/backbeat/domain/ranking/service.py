"""`RankingService`: users' ranking sessions — songs, duels (win, tie, skip, undo) and their
fitted ranking.

Every call that names a user sees only that user's sessions: another user's session is
`NotFound`, the same as a missing one, so ids cannot be probed (the old ranker let anyone
delete any session). `add_songs` (an import growing a session) and `recompute` (a job) may run
without a user.

Deduplication happens here, on every way in, so the API and the import need not agree on it:
songs that are releases of a recording already in the session, or earlier in the same call,
are dropped (`dedup`). The session keeps what it had, so duels never lose their songs.

Fitting is the caller's call: the API runs `recompute` on the default queue every few duels
(reading `duels_since_fit`) and on demand. `get` shows the last fit's ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbeat.clock import Clock
from backbeat.db.engine import Database
from backbeat.db.models import Comparison, RankingSession, SessionRanking, SessionSong, Song
from backbeat.domain.ranking import duels, fitting, model
from backbeat.domain.ranking.convergence import progress, target_duels
from backbeat.domain.ranking.dedup import dedupe_by, song_release
from backbeat.domain.ranking.queries import live, lock, not_found, owned, session_songs
from backbeat.domain.ranking.views import (
    DuelRecord,
    RankingEntry,
    SessionSummary,
    SessionView,
    SongView,
)
from backbeat.errors import InvalidRequest

MAX_NAME = 255


class RankingService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def create_session(
        self,
        user_id: str,
        name: str,
        song_ids: Sequence[int],
        artist_spotify_id: str | None = None,
    ) -> str:
        """A new session of the user's over `song_ids` (deduplicated, may be empty); its id."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidRequest("name", f"between 1 and {MAX_NAME} characters")
        now = self._now()
        row = RankingSession(
            user_id=user_id,
            name=name,
            artist_spotify_id=artist_spotify_id,
            created_at=now,
            updated_at=now,
        )
        async with self.database.sessions() as session, session.begin():
            songs = await _songs(session, song_ids)
            session.add(row)
            await session.flush()
            await _join(session, row.id, dedupe_by(songs, song_release), now)
        return row.id

    async def add_songs(
        self, session_id: str, song_ids: Sequence[int], *, user_id: str | None = None
    ) -> list[int]:
        """Add songs; the ids actually added (releases of recordings the session holds are
        not). With `user_id`, the session must be that user's."""
        now = self._now()
        async with self.database.sessions() as session, session.begin():
            # The lock first: two imports adding the same recording cannot both pass dedup.
            if await lock(session, session_id, now, user_id=user_id) is None:
                raise not_found(session_id)
            held = await session.scalars(
                select(Song).join(SessionSong).where(SessionSong.session_id == session_id)
            )
            songs = await _songs(session, song_ids)
            fresh = dedupe_by(songs, song_release, held=[song_release(s) for s in held])
            await _join(session, session_id, fresh, now)
        return [song.id for song in fresh]

    async def list_sessions(self, user_id: str) -> list[SessionSummary]:
        """The user's sessions, newest first."""
        counts = (
            select(SessionSong.session_id, func.count().label("songs"))
            .group_by(SessionSong.session_id)
            .subquery()
        )
        async with self.database.sessions() as session:
            found = await session.execute(
                select(RankingSession, func.coalesce(counts.c.songs, 0))
                .outerjoin(counts, counts.c.session_id == RankingSession.id)
                .where(RankingSession.user_id == user_id)
                .order_by(RankingSession.created_at.desc(), RankingSession.id)
            )
            return [
                SessionSummary(
                    row.id,
                    row.name,
                    row.artist_spotify_id,
                    row.status,
                    songs,
                    row.comparison_count,
                    row.convergence,
                    row.created_at,
                )
                for row, songs in found
            ]

    async def get(self, user_id: str, session_id: str) -> SessionView:
        """The session with its songs and last fitted ranking (songs added since at the end,
        unranked)."""
        async with self.database.sessions() as session:
            row = await owned(session, user_id, session_id)
            songs = await session_songs(session, session_id)
            fitted = list(
                await session.scalars(
                    select(SessionRanking)
                    .where(SessionRanking.session_id == session_id)
                    .order_by(SessionRanking.rank)
                )
            )
            since = await fitting.duels_since_fit(session, row)
            informative = await session.scalar(
                select(func.count())
                .select_from(Comparison)
                .where(*live(session_id), Comparison.outcome != "skip")
            )
        by_id = {song.id: song for song in songs}
        ranking = [
            RankingEntry(by_id[e.song_id], e.rank, e.score, e.wins, e.losses, e.ties)
            for e in fitted
        ]
        ranked = {e.song_id for e in fitted}
        unranked = sorted((s for s in songs if s.id not in ranked), key=lambda s: s.id)
        ranking += [RankingEntry(song, None, None) for song in unranked]
        return SessionView(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            artist_spotify_id=row.artist_spotify_id,
            status=row.status,
            songs=songs,
            ranking=ranking,
            duels=row.comparison_count,
            duels_since_fit=since,
            convergence=row.convergence,
            ranked_at=row.ranked_at,
            target_duels=target_duels(len(songs)),
            progress=progress(informative or 0, len(songs)),
            created_at=row.created_at,
        )

    async def delete_session(self, user_id: str, session_id: str) -> None:
        """The session with its songs, duels and ranking (ON DELETE CASCADE); the shared
        catalog's songs stay."""
        async with self.database.sessions() as session, session.begin():
            gone = await session.scalar(
                delete(RankingSession)
                .where(RankingSession.id == session_id, RankingSession.user_id == user_id)
                .returning(RankingSession.id)
            )
        if gone is None:
            raise not_found(session_id)

    async def next_pair(self, user_id: str, session_id: str) -> tuple[SongView, SongView] | None:
        """The most informative duel to ask for next; None under two songs."""
        async with self.database.sessions() as session:
            return await duels.next_pair(session, user_id, session_id)

    async def record_duel(
        self, user_id: str, session_id: str, a: int, b: int, outcome: str
    ) -> DuelRecord:
        """The user's answer to a vs b: "a" or "b" (the winner), "tie" or "skip"."""
        async with self.database.sessions() as session, session.begin():
            return await duels.record_duel(session, user_id, session_id, a, b, outcome, self._now())

    async def undo_last(self, user_id: str, session_id: str) -> DuelRecord | None:
        """Take back the newest duel not undone yet (marked, not deleted); None when there is
        none. The next fit ranks as if it had never been made."""
        async with self.database.sessions() as session, session.begin():
            return await duels.undo_last(session, user_id, session_id, self._now())

    async def duels_since_fit(self, session_id: str) -> int:
        return (await self.pending(session_id))[0]

    async def pending(self, session_id: str) -> tuple[int, str | None]:
        """What a duel leaves to do, in one read: the informative duels the ranking does not
        reflect yet, and the session's artist (whose leaderboard counts the duel)."""
        async with self.database.sessions() as session:
            row = await session.get(RankingSession, session_id)
            if row is None:
                raise not_found(session_id)
            return await fitting.duels_since_fit(session, row), row.artist_spotify_id

    async def recompute(self, session_id: str) -> model.Fit:
        """Fit the live duels and store ranking, convergence and `ranked_at`."""
        return await fitting.recompute(self.database, session_id, self._now())


async def _songs(session: AsyncSession, song_ids: Sequence[int]) -> list[Song]:
    wanted = list(dict.fromkeys(song_ids))
    found = {s.id: s for s in await session.scalars(select(Song).where(Song.id.in_(wanted)))}
    missing = [song_id for song_id in wanted if song_id not in found]
    if missing:
        raise InvalidRequest("song_ids", f"no such songs: {missing[:10]}")
    return [found[song_id] for song_id in wanted]


async def _join(
    session: AsyncSession, session_id: str, songs: Sequence[Song], now: datetime
) -> None:
    if songs:
        rows = [{"session_id": session_id, "song_id": s.id, "added_at": now} for s in songs]
        await session.execute(insert(SessionSong), rows)
