"""Playlists: list, read, create and add items (both the `/items` and the older `/tracks` paths)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from backbeat.simulator.api_me import now_utc
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.gate import Caller, spotify_call
from backbeat.simulator.paging import LIST_LIMITS, PageLimits, page, read_page
from backbeat.simulator.playlists import Playlist

router = APIRouter(prefix="/v1")
JSON = dict[str, Any]
MODIFY_SCOPES = frozenset({"playlist-modify-public", "playlist-modify-private"})
MAX_ITEMS_PER_ADD = 100


async def _json_body(request: Request, *, allow_list: bool = False) -> JSON:
    """The JSON object body; a bare array of URIs (as spotipy sends) becomes `{"uris": [...]}`."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise SpotifyError(400, "Error parsing JSON.") from None
    if allow_list and isinstance(body, list):
        return {"uris": body}
    if not isinstance(body, dict):
        raise SpotifyError(400, "Error parsing JSON.")
    return body


def _owner_name(caller: Caller, playlist: Playlist) -> str | None:
    profile = caller.sim.users.get(playlist.owner_id)
    return profile.display_name if profile else None


def _may_modify(caller: Caller) -> str:
    user_id = caller.user_id
    if not caller.token.scopes & MODIFY_SCOPES:
        raise SpotifyError(403, "Insufficient client scope")
    return user_id


def _playlist(caller: Caller, playlist_id: str) -> Playlist:
    found = caller.sim.playlists.get(playlist_id)
    if found is None:
        raise SpotifyError(404, "Resource not found")
    return found


def _list(caller: Caller, request: Request, user_id: str, *, only_public: bool) -> JSON:
    params = request.query_params
    limit, offset = read_page(params.get("limit"), params.get("offset"), LIST_LIMITS)
    playlists = caller.sim.playlists.of_user(user_id)
    if only_public:
        playlists = [p for p in playlists if p.public]
    items = [
        caller.render.simple_playlist(p, _owner_name(caller, p))
        for p in playlists[offset : offset + limit]
    ]
    return page(request.url, items, len(playlists), limit, offset)


@router.get("/me/playlists")
async def my_playlists(
    request: Request, caller: Annotated[Caller, Depends(spotify_call("my_playlists", user=True))]
) -> JSON:
    return _list(caller, request, caller.user_id, only_public=False)


@router.get("/users/{user_id}/playlists")
async def user_playlists(
    user_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("user_playlists"))],
) -> JSON:
    if not caller.sim.users.has_user(user_id):
        raise SpotifyError(404, "Resource not found")
    return _list(caller, request, user_id, only_public=user_id != caller.token.user_id)


async def _create(caller: Caller, request: Request) -> JSONResponse:
    owner = _may_modify(caller)
    body = await _json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SpotifyError(400, "Missing required field: name")
    public, collaborative = body.get("public", True), body.get("collaborative", False)
    description = body.get("description", "")
    if not isinstance(public, bool) or not isinstance(collaborative, bool):
        raise SpotifyError(400, "public and collaborative must be booleans")
    if collaborative and public:
        raise SpotifyError(400, "A collaborative playlist cannot be public")
    if not isinstance(description, str):
        raise SpotifyError(400, "description must be a string")
    playlist = caller.sim.playlists.create(owner, name, description, public, collaborative)
    content = caller.render.playlist(
        playlist, _owner_name(caller, playlist), _items_page(caller, request, playlist, 100, 0)
    )
    return JSONResponse(content, status_code=201)


@router.post("/me/playlists", status_code=201)
async def create_my_playlist(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("create_playlist", "write", user=True))],
) -> JSONResponse:
    return await _create(caller, request)


@router.post("/users/{user_id}/playlists", status_code=201)
async def create_user_playlist(
    user_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("create_playlist", "write", user=True))],
) -> JSONResponse:
    if user_id != caller.user_id:
        raise SpotifyError(403, "You cannot create a playlist for another user")
    return await _create(caller, request)


def _items_page(
    caller: Caller, request: Request, playlist: Playlist, limit: int, offset: int
) -> JSON:
    items = [caller.render.playlist_item(i) for i in playlist.items[offset : offset + limit]]
    url = request.url.replace(path=f"/v1/playlists/{playlist.id}/items", query="")
    return page(url, items, len(playlist.items), limit, offset)


@router.get("/playlists/{playlist_id}")
async def get_playlist(
    playlist_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("playlist"))],
) -> JSON:
    found = _playlist(caller, playlist_id)
    items = _items_page(caller, request, found, 100, 0)
    return caller.render.playlist(found, _owner_name(caller, found), items)


@router.get("/playlists/{playlist_id}/items")
@router.get("/playlists/{playlist_id}/tracks")
async def playlist_items(
    playlist_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("playlist_items"))],
) -> JSON:
    found = _playlist(caller, playlist_id)
    params = request.query_params
    limit, offset = read_page(params.get("limit"), params.get("offset"), PageLimits(100, 100))
    items = [caller.render.playlist_item(i) for i in found.items[offset : offset + limit]]
    return page(request.url, items, len(found.items), limit, offset)


def _track_ids(caller: Caller, uris: object) -> list[str]:
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise SpotifyError(400, "Missing or invalid uris")
    if len(uris) > MAX_ITEMS_PER_ADD:
        raise SpotifyError(400, f"You can add a maximum of {MAX_ITEMS_PER_ADD} tracks per request.")
    ids = []
    for uri in uris:
        kind, _, track_id = uri.removeprefix("spotify:").partition(":")
        if kind != "track" or track_id not in caller.sim.catalog.tracks:
            raise SpotifyError(400, f"Invalid track uri: {uri}")
        ids.append(track_id)
    return ids


@router.post("/playlists/{playlist_id}/items", status_code=201)
@router.post("/playlists/{playlist_id}/tracks", status_code=201)
async def add_items(
    playlist_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("add_playlist_items", "write", user=True))],
) -> JSONResponse:
    user_id = _may_modify(caller)
    found = _playlist(caller, playlist_id)
    if found.owner_id != user_id and not found.collaborative:
        raise SpotifyError(403, "You cannot add tracks to a playlist you don't own.")
    body = await _json_body(request, allow_list=True)
    query = request.query_params
    uris = body.get("uris") if "uris" in body else (query.get("uris") or "").split(",")
    position = body.get("position", query.get("position"))
    if position is not None:
        try:
            position = int(position)
        except (TypeError, ValueError):
            raise SpotifyError(400, "Invalid position") from None
        if position < 0:
            raise SpotifyError(400, "Invalid position")
    ids = _track_ids(caller, [u for u in uris if u] if isinstance(uris, list) else uris)
    caller.sim.playlists.add(found, ids, position, user_id, now_utc(caller))
    return JSONResponse({"snapshot_id": found.snapshot_id}, status_code=201)
