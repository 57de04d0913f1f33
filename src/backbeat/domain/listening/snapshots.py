"""Reading snapshots back: a user's own, newest first."""

from __future__ import annotations

from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import ListeningSnapshot
from backbeat.errors import NotFound


async def list_snapshots(
    database: Database, user_id: str, *, time_range: str | None = None, limit: int = 30
) -> list[ListeningSnapshot]:
    query = select(ListeningSnapshot).where(ListeningSnapshot.user_id == user_id)
    if time_range is not None:
        query = query.where(ListeningSnapshot.time_range == time_range)
    query = query.order_by(
        ListeningSnapshot.snapshot_date.desc(), ListeningSnapshot.time_range
    ).limit(limit)
    async with database.sessions() as session:
        return list(await session.scalars(query))


async def get_snapshot(database: Database, user_id: str, snapshot_id: str) -> ListeningSnapshot:
    """The user's snapshot; another user's is reported as missing."""
    async with database.sessions() as session:
        row = await session.scalar(
            select(ListeningSnapshot).where(
                ListeningSnapshot.id == snapshot_id, ListeningSnapshot.user_id == user_id
            )
        )
    if row is None:
        raise NotFound("snapshot", snapshot_id)
    return row
