"""Login with Spotify, logout, and API tokens for scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from backbeat.api.auth import LOGIN_COOKIE, SESSION_COOKIE, Caller, ServicesDep, limited
from backbeat.domain.accounts import CurrentSession
from backbeat.errors import InvalidRequest

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/login", status_code=302, response_class=RedirectResponse)
async def login(found: ServicesDep) -> RedirectResponse:
    """Start a login: redirects to Spotify's consent page (authorization code + PKCE)."""
    started = found.login.start()
    response = RedirectResponse(started.authorize_url, status_code=302)
    response.set_cookie(
        LOGIN_COOKIE,
        started.cookie,
        max_age=600,
        path="/auth",
        httponly=True,
        secure=found.settings.auth.cookie_secure,
        samesite="lax",
    )
    return response


@router.get("/callback", status_code=302, response_class=RedirectResponse)
async def callback(
    request: Request,
    found: ServicesDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=256)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> RedirectResponse:
    """Where Spotify sends the browser back: checks state and verifier, stores the tokens and
    starts a session (cookie)."""
    if error is not None:
        raise InvalidRequest("error", f"Spotify did not grant access: {error}")
    if not code or not state:
        raise InvalidRequest("code", "the callback needs both code and state")
    logged_in = await found.login.finish(
        code=code, state=state, cookie=request.cookies.get(LOGIN_COOKIE)
    )
    response = RedirectResponse(found.settings.auth.after_login_url, status_code=302)
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    response.set_cookie(
        SESSION_COOKIE,
        logged_in.session_token,
        max_age=found.settings.auth.session_max_age,
        httponly=True,
        secure=found.settings.auth.cookie_secure,
        samesite="lax",
    )
    return response


@router.post("/logout", status_code=204)
async def logout(caller: Caller, found: ServicesDep) -> Response:
    """End this session (cookie or token) everywhere."""
    await found.sessions.revoke(caller.id)
    response = Response(status_code=204)
    if caller.kind == "cookie":  # ending an API token leaves the browser's session alone
        response.delete_cookie(SESSION_COOKIE)
    return response


class ApiToken(BaseModel):
    api_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", status_code=201)
async def api_token(
    caller: Annotated[CurrentSession, limited("api_tokens")], found: ServicesDep
) -> ApiToken:
    """A bearer token for scripts, for the caller's account; ends with POST /auth/logout.
    At most `auth.api_token_rate` per user (each token is a session until it ends)."""
    token = await found.sessions.issue(caller.user_id, "api")
    return ApiToken(api_token=token, expires_in=found.settings.auth.session_max_age)
