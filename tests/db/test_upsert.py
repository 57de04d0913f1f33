"""`upsert` on SQLite and Postgres: the second write of a key updates the first row."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import ListeningSnapshot, User
from backbeat.db.upsert import upsert

KEY = ("user_id", "snapshot_date", "time_range")


async def test_a_second_write_of_a_key_updates_the_row_it_wrote(database: Database) -> None:
    async with database.sessions() as session, session.begin():
        user = User(spotify_id="writer")
        session.add(user)
    day = {"user_id": user.id, "snapshot_date": date(2026, 12, 2), "time_range": "short_term"}
    for tracks in (10, 12):
        async with database.sessions() as session, session.begin():
            await upsert(session, ListeningSnapshot, day | {"track_count": tracks}, key=KEY)
    async with database.sessions() as session, session.begin():  # a key alone: insert or nothing
        await upsert(session, ListeningSnapshot, day, key=KEY)
        other_range = day | {"time_range": "long_term", "track_count": 3}
        await upsert(session, ListeningSnapshot, other_range, key=KEY)
    async with database.sessions() as session:
        rows = await session.execute(
            select(ListeningSnapshot.time_range, ListeningSnapshot.track_count).order_by(
                ListeningSnapshot.time_range
            )
        )
        assert rows.all() == [("long_term", 3), ("short_term", 12)]
