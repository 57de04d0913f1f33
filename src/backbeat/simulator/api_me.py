"""The current user's endpoints: profile, top items, recently played and liked songs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.gate import Caller, spotify_call
from backbeat.simulator.objects import timestamp
from backbeat.simulator.paging import LIST_LIMITS, PageLimits, page, read_page
from backbeat.simulator.users import TIME_RANGES, UserProfile

router = APIRouter(prefix="/v1")
JSON = dict[str, Any]


def profile_of(caller: Caller) -> UserProfile:
    profile = caller.sim.users.get(caller.user_id)
    if profile is None:  # a token can only name a user that exists, so this is a simulator bug
        raise SpotifyError(500, "Unknown user")
    return profile


@router.get("/me")
async def me(caller: Annotated[Caller, Depends(spotify_call("me", user=True))]) -> JSON:
    return caller.render.user(profile_of(caller), private=True)


@router.get("/me/top/{kind}")
async def top_items(
    kind: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("top_items", scope="user-top-read"))],
) -> JSON:
    if kind not in ("artists", "tracks"):
        raise SpotifyError(404, "Service not found")
    params = request.query_params
    time_range = params.get("time_range", "medium_term")
    if time_range not in TIME_RANGES:
        raise SpotifyError(400, "Invalid time range")
    limit, offset = read_page(params.get("limit"), params.get("offset"), LIST_LIMITS)
    profile, catalog, render = profile_of(caller), caller.sim.catalog, caller.render
    if kind == "artists":
        ids = profile.top_artists[time_range]
        items = [render.artist(catalog.artists[i]) for i in ids[offset : offset + limit]]
    else:
        ids = profile.top_tracks[time_range]
        items = [render.track(catalog.tracks[i]) for i in ids[offset : offset + limit]]
    return page(request.url, items, len(ids), limit, offset)


def _millis(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise SpotifyError(400, f"Invalid {name} parameter")
    return int(raw)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@router.get("/me/player/recently-played")
async def recently_played(
    request: Request,
    caller: Annotated[
        Caller, Depends(spotify_call("recently_played", scope="user-read-recently-played"))
    ],
) -> JSON:
    params = request.query_params
    limit, _ = read_page(params.get("limit"), None, PageLimits(20, 50))
    after, before = _millis(params.get("after"), "after"), _millis(params.get("before"), "before")
    if after is not None and before is not None:
        raise SpotifyError(400, "Only one of after and before may be given")
    plays = list(profile_of(caller).recently_played)  # newest first
    if after is not None:
        plays = [p for p in plays if _ms(p.at) > after][-limit:]
    elif before is not None:
        plays = [p for p in plays if _ms(p.at) < before][:limit]
    else:
        plays = plays[:limit]
    catalog, render = caller.sim.catalog, caller.render
    # Played from the track's album: the OpenAPI file has no `null` context.
    items = [
        {"track": render.track(catalog.tracks[p.track_id]), "played_at": timestamp(p.at),
         "context": render.context("album", catalog.tracks[p.track_id].album_id)}
        for p in plays
    ]  # fmt: skip
    cursors = {"after": str(_ms(plays[0].at)), "before": str(_ms(plays[-1].at))} if plays else None
    next_url = (
        str(request.url.remove_query_params("after").include_query_params(
            before=cursors["before"], limit=limit))
        if cursors else None
    )  # fmt: skip
    return {
        "href": str(request.url),
        "limit": limit,
        "next": next_url,
        "cursors": cursors,
        "items": items,
    }


@router.get("/me/tracks")
async def saved_tracks(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("saved_tracks", scope="user-library-read"))],
) -> JSON:
    params = request.query_params
    limit, offset = read_page(params.get("limit"), params.get("offset"), LIST_LIMITS)
    liked = caller.sim.likes.liked(profile_of(caller))
    catalog, render = caller.sim.catalog, caller.render
    items = [
        {"added_at": timestamp(saved.at), "track": render.track(catalog.tracks[saved.track_id])}
        for saved in liked[offset : offset + limit]
    ]
    return page(request.url, items, len(liked), limit, offset)


def now_utc(caller: Caller) -> datetime:
    return datetime.fromtimestamp(caller.sim.clock.time(), UTC)
