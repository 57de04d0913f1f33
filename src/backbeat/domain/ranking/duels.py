"""Duels: the next pair to ask about, recording the answer, taking back the last one.

Recording is one transaction: the session's `comparison_count = comparison_count + 1` (an SQL
expression, never read-modify-write in Python: the old ranker lost updates that way), which
also locks the session's row, then the comparison's INSERT; a bad request rolls both back.
Undo marks the newest live comparison `undone_at` and counts one down the same way, so the
count always equals the live comparisons, skips included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbeat.db.models import Comparison, RankingSession, SessionRanking, SessionSong
from backbeat.domain.ranking import model
from backbeat.domain.ranking.queries import live, lock, not_found, owned, session_songs
from backbeat.domain.ranking.views import DuelRecord, SongView
from backbeat.errors import InvalidRequest

DuelOutcome = Literal["a", "b", "tie", "skip"]
OUTCOMES: tuple[str, ...] = ("a", "b", "tie", "skip")


async def next_pair(
    session: AsyncSession, user_id: str, session_id: str
) -> tuple[SongView, SongView] | None:
    """`model.next_pair` over the session's songs, last fitted scores (0, the average, for
    songs added since) and how often each pair met (skips included, so a skipped pair is not
    offered straight back)."""
    await owned(session, user_id, session_id)
    songs = {song.id: song for song in await session_songs(session, session_id)}
    scores = dict.fromkeys(songs, 0.0)
    fitted = await session.execute(
        select(SessionRanking.song_id, SessionRanking.score).where(
            SessionRanking.session_id == session_id
        )
    )
    scores.update((song, score) for song, score in fitted if song in scores)
    met = await session.execute(
        select(Comparison.winner_id, Comparison.loser_id, func.count())
        .where(*live(session_id))
        .group_by(Comparison.winner_id, Comparison.loser_id)
    )
    pair = model.next_pair(scores, {(a, b): n for a, b, n in met})
    return None if pair is None else (songs[pair[0]], songs[pair[1]])


async def record_duel(
    session: AsyncSession,
    user_id: str,
    session_id: str,
    a: int,
    b: int,
    outcome: str,
    now: datetime,
) -> DuelRecord:
    """Within the caller's transaction: "a" or "b" won, or "tie", or "skip"."""
    if outcome not in OUTCOMES:
        raise InvalidRequest("outcome", f"one of {', '.join(OUTCOMES)}")
    if a == b:
        raise InvalidRequest("b", "a song cannot duel itself")
    row = await lock(
        session,
        session_id,
        now,
        user_id=user_id,
        comparison_count=RankingSession.comparison_count + 1,
    )
    if row is None:
        raise not_found(session_id)
    members = set(
        await session.scalars(
            select(SessionSong.song_id).where(
                SessionSong.session_id == session_id, SessionSong.song_id.in_((a, b))
            )
        )
    )
    if members != {a, b}:
        raise InvalidRequest("song", f"not in this session: {sorted({a, b} - members)}")
    winner, loser = (b, a) if outcome == "b" else (a, b)
    duel = Comparison(
        session_id=session_id,
        winner_id=winner,
        loser_id=loser,
        outcome="win" if outcome in ("a", "b") else outcome,
        created_at=now,
    )
    session.add(duel)
    await session.flush()
    return DuelRecord.from_row(duel, row.comparison_count)


async def undo_last(
    session: AsyncSession, user_id: str, session_id: str, now: datetime
) -> DuelRecord | None:
    """Within the caller's transaction: the newest live duel marked undone; None when the
    session has none."""
    row = await lock(
        session,
        session_id,
        now,
        user_id=user_id,
        where=(RankingSession.comparison_count > 0,),
        comparison_count=RankingSession.comparison_count - 1,
    )
    if row is None:
        await owned(session, user_id, session_id)  # NotFound, or simply nothing to undo
        return None
    duel = await session.scalar(
        select(Comparison).where(*live(session_id)).order_by(Comparison.id.desc()).limit(1)
    )
    if duel is None:  # the count said there was one: fail, which rolls the count back
        raise InvalidRequest("undo", "no duel to undo")
    duel.undone_at = now
    return DuelRecord.from_row(duel, row.comparison_count)
