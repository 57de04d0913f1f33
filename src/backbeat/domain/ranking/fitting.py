"""Fitting a session: read its live duels, fit (off the event loop), store the ranking.

`ranked_at` is the time the duels were read, so `duels_since_fit` counts what came after: duels
made or undone later than that. A duel committed while a fit was reading may be counted as
fitted; the next duel asks for the next fit anyway. The fit does not hold the session's lock
while numpy works, so duels go on meanwhile; two fits racing store the one that read last.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from backbeat.db.engine import Database
from backbeat.db.models import Comparison, RankingSession, SessionRanking, SessionSong
from backbeat.domain.ranking import model
from backbeat.domain.ranking.queries import live, lock, not_found


async def duels_since_fit(session: AsyncSession, row: RankingSession) -> int:
    """Informative duels (wins, ties) made or undone since the last fit read the duels; every
    live one before the first fit. Skips change nothing and are not counted."""
    informative = [Comparison.session_id == row.id, Comparison.outcome != "skip"]
    since: ColumnElement[bool]
    if row.ranked_at is None:
        since = Comparison.undone_at.is_(None)
    else:
        since = or_(Comparison.created_at > row.ranked_at, Comparison.undone_at > row.ranked_at)
    counted = select(func.count()).select_from(Comparison).where(*informative, since)
    return await session.scalar(counted) or 0


async def recompute(database: Database, session_id: str, read_at: datetime) -> model.Fit:
    """Fit the session's live duels; store ranking, convergence and `ranked_at = read_at`
    unless a fit that read later already stored its own."""
    async with database.sessions() as session:
        if await session.get(RankingSession, session_id) is None:
            raise not_found(session_id)
        song_ids = sorted(
            await session.scalars(
                select(SessionSong.song_id).where(SessionSong.session_id == session_id)
            )
        )
        found = await session.scalars(
            select(Comparison).where(*live(session_id)).order_by(Comparison.id)
        )
        duels = [model.Duel(c.winner_id, c.loser_id, c.outcome) for c in found]
    # Up to a second of numpy for large sessions: off the event loop (numpy releases the GIL).
    fitted = await asyncio.to_thread(model.fit, song_ids, duels)
    async with database.sessions() as session, session.begin():
        newest = (or_(RankingSession.ranked_at.is_(None), RankingSession.ranked_at <= read_at),)
        row = await lock(
            session,
            session_id,
            read_at,
            where=newest,
            convergence=fitted.convergence,
            ranked_at=read_at,
        )
        if row is None:
            if await session.get(RankingSession, session_id) is None:
                raise not_found(session_id)
            return fitted  # a later fit is stored already
        await session.execute(delete(SessionRanking).where(SessionRanking.session_id == session_id))
        if fitted.ranking:
            await session.execute(
                insert(SessionRanking),
                [
                    {
                        "session_id": session_id,
                        "song_id": song.song_id,
                        "rank": song.rank,
                        "score": song.score,
                        "wins": song.wins,
                        "losses": song.losses,
                        "ties": song.ties,
                        "computed_at": read_at,
                    }
                    for song in fitted.ranking
                ],
            )
    return fitted
