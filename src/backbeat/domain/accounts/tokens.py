"""`DatabaseUserTokens`: users' Spotify tokens in `spotify_tokens`, encrypted at rest by the
engine's cipher, shared by every process. Spotify's refusal of a refresh token flags the user
(`needs_relogin`) and drops the dead tokens, so nothing keeps retrying with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from backbeat.clock import Clock
from backbeat.db.crypto import UndecryptableToken
from backbeat.db.engine import Database
from backbeat.db.models import SpotifyToken, User
from backbeat.db.upsert import upsert
from backbeat.spotify.auth import AccessToken


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class DatabaseUserTokens:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    async def load(self, user: str) -> AccessToken | None:
        try:
            async with self.database.sessions() as session:
                row = await session.get(SpotifyToken, user)
        except UndecryptableToken:
            # Its key was retired before `rotate` re-encrypted it: only a new login helps.
            await self.refused(user, "stored tokens cannot be decrypted with the current keys")
            return None
        if row is None:
            return None
        return AccessToken(
            value=row.access_token,
            expires_at=row.expires_at.timestamp(),
            refresh_token=row.refresh_token,
            scope=" ".join(row.scopes),
        )

    async def save(self, user: str, token: AccessToken) -> None:
        now = _at(self.clock.time())
        values = {
            "user_id": user,
            "access_token": token.value,
            # Spotify may not rotate it: keep the one we have rather than lose it.
            "refresh_token": token.refresh_token or await self._refresh_token(user) or "",
            "expires_at": _at(token.expires_at),
            "scopes": token.scope.split(),
            "created_at": now,
            "updated_at": now,
        }
        async with self.database.sessions() as session, session.begin():
            await upsert(
                session,
                SpotifyToken,
                values,
                key=("user_id",),
                update=["access_token", "refresh_token", "expires_at", "scopes", "updated_at"],
            )
            await session.execute(
                update(User)
                .where(User.id == user, User.needs_relogin.is_(True))
                .values(needs_relogin=False, auth_error=None, updated_at=now)
            )

    async def refused(self, user: str, reason: str) -> None:
        now = _at(self.clock.time())
        async with self.database.sessions() as session, session.begin():
            await session.execute(delete(SpotifyToken).where(SpotifyToken.user_id == user))
            await session.execute(
                update(User)
                .where(User.id == user)
                .values(needs_relogin=True, auth_error=reason[:500], updated_at=now)
            )

    async def expiring(self, within: float) -> list[str]:
        """Users whose access token expires within `within` seconds (the refresh sweep)."""
        soon = _at(self.clock.time()) + timedelta(seconds=within)
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(SpotifyToken.user_id)
                .join(User, User.id == SpotifyToken.user_id)
                .where(SpotifyToken.expires_at < soon, User.needs_relogin.is_(False))
            )
            return list(rows)

    async def _refresh_token(self, user: str) -> str | None:
        async with self.database.sessions() as session:
            return await session.scalar(
                select(SpotifyToken.refresh_token).where(SpotifyToken.user_id == user)
            )
