"""Who is calling: a session cookie (browsers, after /auth/login) or a bearer API token
(scripts, after /auth/token or /api/users/register). Both name a live `app_sessions` row.
Admin routes take the configured admin token instead.

Cookies are HttpOnly and SameSite=Lax: a cross-site POST does not carry them, which is what
keeps cookie-authenticated POSTs from being forged by other sites.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

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


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def current_session(
    found: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(api_token)],
    cookie: Annotated[str | None, Security(session_cookie)],
) -> CurrentSession:
    token = bearer.credentials if bearer is not None else cookie
    if not token:
        raise NotAuthenticated("log in at /auth/login, or send an API token as a bearer token")
    session = await found.sessions.resolve(token)
    if session is None:
        raise NotAuthenticated("this session has expired or was ended; log in again")
    return session


Caller = Annotated[CurrentSession, Depends(current_session)]


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
