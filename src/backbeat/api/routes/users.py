"""The caller's account, its Spotify tokens, and registration for admin/automation."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from backbeat.api.auth import SESSION_COOKIE, Caller, ServicesDep, require_admin
from backbeat.api.routes.auth import ApiToken
from backbeat.db.models import User
from backbeat.spotify.auth import AccessToken

router = APIRouter(prefix="/api", tags=["users"])


class Account(BaseModel):
    user_id: str
    spotify_id: str
    display_name: str | None
    email: str | None
    country: str | None
    product: str | None
    needs_relogin: bool = Field(description="Spotify refused our tokens: log in again")
    auth_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(
            user_id=user.id,
            spotify_id=user.spotify_id,
            display_name=user.display_name,
            email=user.email,
            country=user.country,
            product=user.product,
            needs_relogin=user.needs_relogin,
            auth_error=user.auth_error,
            created_at=user.created_at,
        )


@router.get("/users/me")
async def me(caller: Caller, found: ServicesDep) -> Account:
    return Account.of(await found.users.get(caller.user_id))


@router.delete("/users/me", status_code=204)
async def delete_me(caller: Caller, found: ServicesDep) -> Response:
    """Delete the account and everything of it: tokens, sessions, snapshots, insights, jobs."""
    await found.users.delete(caller.user_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


class Registration(BaseModel):
    spotify_user_id: str = Field(min_length=1, max_length=255)
    display_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)


class Registered(ApiToken):
    user_id: str


@router.post(
    "/users/register", status_code=201, dependencies=[Depends(require_admin)], tags=["admin"]
)
async def register(registration: Registration, found: ServicesDep) -> Registered:
    """Create (or find) a user by Spotify id and hand out an API token for them — for
    automation that obtained the user's Spotify tokens itself (then POST /api/tokens/store)."""
    user = await found.users.find_or_create(
        registration.spotify_user_id,
        display_name=registration.display_name,
        email=registration.email,
    )
    token = await found.sessions.issue(user.id, "api")
    return Registered(
        user_id=user.id, api_token=token, expires_in=found.settings.auth.session_max_age
    )


class StoredTokens(BaseModel):
    access_token: str = Field(min_length=1, max_length=4096)
    refresh_token: str = Field(min_length=1, max_length=4096)
    expires_in: int = Field(gt=0, le=86400, description="seconds, as Spotify says")
    scope: str = Field(default="", max_length=2048)


@router.post("/tokens/store", status_code=204)
async def store_tokens(tokens: StoredTokens, caller: Caller, found: ServicesDep) -> Response:
    """Store the caller's Spotify tokens (JSON body; encrypted at rest)."""
    expires_at = found.clock.time() + tokens.expires_in
    await found.tokens.save(
        caller.user_id,
        AccessToken(tokens.access_token, expires_at, tokens.refresh_token, tokens.scope),
    )
    return Response(status_code=204)
