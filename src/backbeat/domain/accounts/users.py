"""Users: found or created by their Spotify id, read back, deleted with everything of theirs
(every table's foreign key cascades from `users`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from backbeat.clock import Clock
from backbeat.db.engine import Database
from backbeat.db.models import User
from backbeat.db.upsert import upsert
from backbeat.errors import NotFound


class UserAccounts:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    async def find_or_create(
        self,
        spotify_id: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        country: str | None = None,
        product: str | None = None,
    ) -> User:
        """The user with this Spotify id, created if new; given profile fields are updated.
        One statement, so two logins racing for a new user make one row."""
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        profile = {
            "display_name": display_name,
            "email": email,
            "country": country,
            "product": product,
        }
        given = {name: value for name, value in profile.items() if value is not None}
        values = {"spotify_id": spotify_id, "created_at": now, "updated_at": now, **given}
        async with self.database.sessions() as session, session.begin():
            await upsert(session, User, values, key=("spotify_id",), update=[*given, "updated_at"])
            user = await session.scalar(select(User).where(User.spotify_id == spotify_id))
        assert user is not None
        return user

    async def get(self, user_id: str) -> User:
        async with self.database.sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    async def delete(self, user_id: str) -> None:
        """The user and all their rows: tokens, sessions, snapshots, insights, jobs, rankings."""
        async with self.database.sessions() as session, session.begin():
            await session.execute(delete(User).where(User.id == user_id))

    async def all_ids(self, *, active_only: bool = True) -> list[str]:
        """Users the periodic jobs work for (by default those who need no new login)."""
        query = select(User.id).order_by(User.created_at)
        if active_only:
            query = query.where(User.needs_relogin.is_(False))
        async with self.database.sessions() as session:
            return list(await session.scalars(query))
