"""Reading a session's rows, and taking its lock — shared by the session, duel and fit code.

Owner-only reads: a session that is not the caller's is `NotFound`, exactly like a missing one.

The lock is an UPDATE of the session's row, made the first statement of every write: it takes
the row lock on Postgres and the database write lock on SQLite, so the writes of one session
(duels, undos, songs, fits) run one after another. A SQLite transaction that read first and
wrote later could instead fail at once ("database is locked") when another writer got in
between, whatever the busy timeout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from backbeat.db.models import Comparison, RankingSession, SessionSong, Song
from backbeat.domain.ranking.views import SongView
from backbeat.errors import NotFound

KIND = "ranking session"


def not_found(session_id: str) -> NotFound:
    return NotFound(KIND, session_id)


def live(session_id: str) -> list[ColumnElement[bool]]:
    """The session's duels that were not undone."""
    return [Comparison.session_id == session_id, Comparison.undone_at.is_(None)]


async def owned(session: AsyncSession, user_id: str, session_id: str) -> RankingSession:
    row = await session.scalar(
        select(RankingSession).where(
            RankingSession.id == session_id, RankingSession.user_id == user_id
        )
    )
    if row is None:
        raise not_found(session_id)
    return row


async def lock(
    session: AsyncSession,
    session_id: str,
    now: datetime,
    *,
    user_id: str | None = None,
    where: tuple[ColumnElement[bool], ...] = (),
    **values: Any,
) -> RankingSession | None:
    """UPDATE the session's row (`values`, and `updated_at`), which locks it until the
    transaction ends; the row as updated, or None when no row matched (missing, another
    user's when `user_id` is given, or `where` false)."""
    owner = () if user_id is None else (RankingSession.user_id == user_id,)
    result = await session.execute(
        update(RankingSession)
        .where(RankingSession.id == session_id, *owner, *where)
        .values(updated_at=now, **values)
        .returning(RankingSession)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def session_songs(session: AsyncSession, session_id: str) -> list[SongView]:
    """The session's songs in the order they joined it."""
    found = await session.scalars(
        select(Song)
        .join(SessionSong)
        .where(SessionSong.session_id == session_id)
        .order_by(SessionSong.added_at, Song.id)
    )
    return [SongView.from_row(song) for song in found]
