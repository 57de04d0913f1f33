"""Who is calling: a session cookie (browsers, after /auth/login) or a bearer API token
(scripts, after /auth/token or /api/users/register). Both name a live `app_sessions` row.
Admin routes take the configured admin token instead.

Cookies are HttpOnly and SameSite=Lax: a cross-site POST does not carry them, which is what
keeps cookie-authenticated POSTs from being forged by other sites.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from backbeat.api.deps import InboundDep
from backbeat.api.throttle import Action
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.services import Services
from backbeat.errors import NotAuthenticated

SESSION_COOKIE = "backbeat_session"
LOGIN_COOKIE = "backbeat_login"

api_token = HTTPBearer(
    scheme_name="API token",
    description="`Authorization: Bearer <token>` from POST /auth/token or /api/users/register",
    auto_error=False,
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="Session cookie",
    description="Set by GET /auth/callback at the end of the Spotify login",
    auto_error=False,
)
admin_token = HTTPBearer(
    scheme_name="Admin token",
    description="`Authorization: Bearer <BACKBEAT_AUTH__ADMIN_TOKEN>`",
    auto_error=False,
)


async def services(request: Request) -> Services:  # async: no thread-pool hop
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(api_token)]
CookieDep = Annotated[str | None, Security(session_cookie)]
ENDED = "this session has expired or was ended; log in again"


def _session_id(
    found: Services, bearer: HTTPAuthorizationCredentials | None, cookie: str | None
) -> str:
    """The session id the presented token names, checked by its signature alone (no query): a
    forged or tampered token ends here, at the cost of one HMAC."""
    token = bearer.credentials if bearer is not None else cookie
    if not token:
        raise NotAuthenticated("log in at /auth/login, or send an API token as a bearer token")
    session_id = found.sessions.verify(token)
    if session_id is None:
        raise NotAuthenticated(ENDED)
    return session_id


async def _live(found: Services, session_id: str) -> CurrentSession:
    session = await found.sessions.lookup(session_id)
    if session is None:
        raise NotAuthenticated(ENDED)
    return session


async def current_session(
    found: ServicesDep, bearer: BearerDep, cookie: CookieDep
) -> CurrentSession:
    return await _live(found, _session_id(found, bearer, cookie))


Caller = Annotated[CurrentSession, Depends(current_session)]


def limited(action: Action) -> Any:
    """`caller: Annotated[CurrentSession, limited("catalog")]`: the caller, counted against
    `action`'s inbound limit twice. First per session, keyed on the signed id, before the
    session's row is read: a burst is refused without a database round trip, and only the
    holder of a validly signed token can spend that session's allowance. Then per user, after
    the lookup, so a user's several sessions (a browser, API tokens) share one allowance."""

    async def caller(
        found: ServicesDep, inbound: InboundDep, bearer: BearerDep, cookie: CookieDep
    ) -> CurrentSession:
        session_id = _session_id(found, bearer, cookie)
        await inbound.check(action, f"session:{session_id}")
        session = await _live(found, session_id)
        await inbound.check(action, session.user_id)
        return session

    return Depends(caller)


async def require_admin(
    found: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(admin_token)],
) -> None:
    configured = found.settings.auth.admin_token
    if configured is None:
        raise HTTPException(403, "admin routes are disabled (no BACKBEAT_AUTH__ADMIN_TOKEN)")
    given = bearer.credentials if bearer is not None else ""
    if not secrets.compare_digest(given.encode(), configured.get_secret_value().encode()):
        raise NotAuthenticated("an admin token is required")
