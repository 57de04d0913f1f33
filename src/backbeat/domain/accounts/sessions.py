"""Sessions: a browser's cookie or an API token, both a signed `app_sessions` id.

The signature (itsdangerous, keyed by `auth.session_secret`) lets a forged or tampered token be
turned away without a query; the row lets a logout or an account deletion end a session at
once in every process. The same signer, with another salt, carries the short-lived login state
(OAuth `state` and PKCE verifier) in a cookie, so the callback can land on any process.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update

from backbeat.clock import Clock
from backbeat.config import Settings
from backbeat.db.engine import Database
from backbeat.db.models import AppSession
from backbeat.errors import ConfigurationError

log = logging.getLogger(__name__)

SessionKind = Literal["cookie", "api"]
LOGIN_MAX_AGE = 600  # seconds from /auth/login to /auth/callback


def session_secret(settings: Settings) -> str:
    """The configured secret; in development only, an ephemeral one (sessions end on restart)."""
    if settings.auth.session_secret is not None:
        return settings.auth.session_secret.get_secret_value()
    if settings.environment != "development":
        raise ConfigurationError(
            "auth.session_secret",
            f"no secret to sign sessions with in {settings.environment}; set "
            "BACKBEAT_AUTH__SESSION_SECRET to a long random string",
        )
    log.warning("auth.session_secret is empty: sessions end when this process stops")
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class CurrentSession:
    id: str
    user_id: str
    kind: str


class Sessions:
    def __init__(self, database: Database, secret: str, clock: Clock, *, max_age: int) -> None:
        self.database = database
        self.clock = clock
        self.max_age = max_age
        self._sessions = URLSafeTimedSerializer(secret, salt="backbeat-session")
        self._logins = URLSafeTimedSerializer(secret, salt="backbeat-login")

    async def issue(self, user_id: str, kind: SessionKind) -> str:
        now = self._now()
        row = AppSession(
            user_id=user_id,
            kind=kind,
            created_at=now,
            expires_at=now + timedelta(seconds=self.max_age),
        )
        async with self.database.sessions() as session, session.begin():
            session.add(row)
        return self._sessions.dumps(row.id)

    def verify(self, token: str) -> str | None:
        """The session id a token names if its signature holds and it is younger than the
        session's max age, else None — without a query, so that a request can be counted
        against its inbound limit (and refused) before it costs the database anything."""
        session_id = self._loads(self._sessions, token, self.max_age)
        return session_id if isinstance(session_id, str) else None

    async def resolve(self, token: str) -> CurrentSession | None:
        """The live session a token names, or None (bad signature, expired, revoked)."""
        session_id = self.verify(token)
        return await self.lookup(session_id) if session_id is not None else None

    async def lookup(self, session_id: str) -> CurrentSession | None:
        """The live session of a verified id, or None (expired or revoked)."""
        async with self.database.sessions() as session:
            row = await session.scalar(
                select(AppSession).where(
                    AppSession.id == session_id,
                    AppSession.revoked_at.is_(None),
                    AppSession.expires_at > self._now(),
                )
            )
        return CurrentSession(row.id, row.user_id, row.kind) if row is not None else None

    async def revoke(self, session_id: str) -> None:
        async with self.database.sessions() as session, session.begin():
            await session.execute(
                update(AppSession)
                .where(AppSession.id == session_id, AppSession.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )

    def login_state(self, state: str, verifier: str) -> str:
        return self._logins.dumps({"state": state, "verifier": verifier})

    def read_login_state(self, signed: str) -> dict[str, str] | None:
        value = self._loads(self._logins, signed, LOGIN_MAX_AGE)
        if isinstance(value, dict) and {"state", "verifier"} <= value.keys():
            return {"state": str(value["state"]), "verifier": str(value["verifier"])}
        return None

    def _loads(self, serializer: URLSafeTimedSerializer, token: str, max_age: int) -> Any:
        try:
            return serializer.loads(token, max_age=max_age)
        except BadSignature:  # includes expired signatures
            return None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)
