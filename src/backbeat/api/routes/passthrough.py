"""`/v1/*`: Spotify's Web API through backbeat (`backbeat.spotify.passthrough`), for the API's
own callers only. A Spotify client sends a backbeat API token (`POST /auth/token`) as its bearer
token, or a browser its session cookie; anyone else is answered 401 before anything is forwarded,
so the app's budget is spent only for backbeat's users, each within `auth.passthrough_rate`.
Catalog calls go out with the app's token, `/me…`, `/users/…` and `/playlists/…` as the
caller's backbeat user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request

from backbeat.api.auth import limited
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.services import Services
from backbeat.spotify.passthrough import passthrough_router
from backbeat.upstream.stack import UpstreamStack


async def backbeat_user(caller: Annotated[CurrentSession, limited("passthrough")]) -> str:
    return caller.user_id


def upstreams(request: Request) -> UpstreamStack:
    found: Services = request.app.state.services  # set by the lifespan
    return found.upstreams


router = passthrough_router(upstreams, backbeat_user)
