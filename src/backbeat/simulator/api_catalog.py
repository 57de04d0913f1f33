"""Catalog endpoints of the Web API: search, albums, artists and tracks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request

from backbeat.simulator.catalog import Album, is_spotify_id
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.gate import Caller, spotify_call
from backbeat.simulator.paging import (
    ARTIST_ALBUM_LIMITS,
    LIST_LIMITS,
    SEARCH_LIMITS,
    page,
    read_ids,
    read_page,
)
from backbeat.simulator.search import SEARCH_TYPES

router = APIRouter(prefix="/v1")
JSON = dict[str, Any]
T = TypeVar("T")


def _valid(entity_id: str) -> str:
    if not is_spotify_id(entity_id):
        raise SpotifyError(400, "Invalid base62 id")
    return entity_id


def find(table: Mapping[str, T], entity_id: str) -> T:
    """One catalog entity by id: 400 for a malformed id, 404 for an unknown one."""
    found = table.get(_valid(entity_id))
    if found is None:
        raise SpotifyError(404, "Resource not found")
    return found


def several(request: Request, table: Mapping[str, T], maximum: int) -> list[T | None]:
    """The entities named by `?ids=`, None where unknown (as Spotify answers)."""
    return [table.get(i) for i in read_ids(request.query_params.get("ids"), maximum)]


def album_tracks_page(
    caller: Caller, request: Request, album: Album, limit: int, offset: int
) -> JSON:
    tracks = [caller.sim.catalog.tracks[t] for t in album.track_ids[offset : offset + limit]]
    url = request.url.replace(path=f"/v1/albums/{album.id}/tracks", query="")
    return page(url, [caller.render.simple_track(t) for t in tracks], len(album.track_ids),
                limit, offset)  # fmt: skip


@router.get("/search")
async def search(
    request: Request, caller: Annotated[Caller, Depends(spotify_call("search"))]
) -> JSON:
    params = request.query_params
    query = params.get("q", "")
    if not query.strip():
        raise SpotifyError(400, "No search query")
    types = [t.strip() for t in params.get("type", "").split(",") if t.strip()]
    if not types or any(t not in SEARCH_TYPES for t in types):
        raise SpotifyError(400, "Bad search type field")
    limits = SEARCH_LIMITS[caller.sim.settings.mode]
    limit, offset = read_page(params.get("limit"), params.get("offset"), limits)
    catalog, render = caller.sim.catalog, caller.render
    renderers = {
        "track": lambda i: render.track(catalog.tracks[i]),
        "album": lambda i: render.simple_album(catalog.albums[i]),
        "artist": lambda i: render.artist(catalog.artists[i]),
    }
    result: JSON = {}
    for kind in types:
        ids = caller.sim.search.find(kind, query)
        to_json = renderers.get(kind)
        items = [to_json(i) for i in ids[offset : offset + limit]] if to_json else []
        url = request.url.include_query_params(type=kind)
        result[f"{kind}s"] = page(url, items, len(ids), limit, offset)
    return result


@router.get("/albums/{album_id}")
async def album(
    album_id: str, request: Request, caller: Annotated[Caller, Depends(spotify_call("album"))]
) -> JSON:
    found = find(caller.sim.catalog.albums, album_id)
    return caller.render.album(found, album_tracks_page(caller, request, found, 50, 0))


@router.get("/albums")
async def several_albums(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("albums", "batch", extended_only=True))],
) -> JSON:
    albums = several(request, caller.sim.catalog.albums, 20)
    return {
        "albums": [
            caller.render.album(a, album_tracks_page(caller, request, a, 50, 0)) if a else None
            for a in albums
        ]
    }


@router.get("/albums/{album_id}/tracks")
async def album_tracks(
    album_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("album_tracks"))],
) -> JSON:
    found = find(caller.sim.catalog.albums, album_id)
    params = request.query_params
    limit, offset = read_page(params.get("limit"), params.get("offset"), LIST_LIMITS)
    return album_tracks_page(caller, request, found, limit, offset)


@router.get("/artists/{artist_id}")
async def artist(
    artist_id: str, caller: Annotated[Caller, Depends(spotify_call("artist"))]
) -> JSON:
    return caller.render.artist(find(caller.sim.catalog.artists, artist_id))


@router.get("/artists")
async def several_artists(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("artists", "batch", extended_only=True))],
) -> JSON:
    found = several(request, caller.sim.catalog.artists, 50)
    return {"artists": [caller.render.artist(a) if a else None for a in found]}


_GROUPS = {"album", "single", "appears_on", "compilation"}


@router.get("/artists/{artist_id}/albums")
async def artist_albums(
    artist_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("artist_albums"))],
) -> JSON:
    found = find(caller.sim.catalog.artists, artist_id)
    params = request.query_params
    groups = {g.strip() for g in params.get("include_groups", "").split(",") if g.strip()}
    if groups - _GROUPS:
        raise SpotifyError(400, "Invalid include_groups")
    limits = ARTIST_ALBUM_LIMITS[caller.sim.settings.mode]
    limit, offset = read_page(params.get("limit"), params.get("offset"), limits)
    albums = [caller.sim.catalog.albums[a] for a in caller.sim.catalog.artist_albums[found.id]]
    albums = [a for a in albums if not groups or a.album_type in groups]
    albums.sort(key=lambda a: (a.release_date, a.id), reverse=True)
    items = [caller.render.simple_album(a, group=True) for a in albums[offset : offset + limit]]
    return page(request.url, items, len(albums), limit, offset)


@router.get("/artists/{artist_id}/top-tracks")
async def artist_top_tracks(
    artist_id: str, caller: Annotated[Caller, Depends(spotify_call("artist_top_tracks"))]
) -> JSON:
    found = find(caller.sim.catalog.artists, artist_id)
    return {
        "tracks": [caller.render.track(t) for t in caller.sim.catalog.artist_tracks(found.id)[:10]]
    }


@router.get("/tracks/{track_id}")
async def track(track_id: str, caller: Annotated[Caller, Depends(spotify_call("track"))]) -> JSON:
    return caller.render.track(find(caller.sim.catalog.tracks, track_id))


@router.get("/tracks")
async def several_tracks(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("tracks", "batch", extended_only=True))],
) -> JSON:
    found = several(request, caller.sim.catalog.tracks, 50)
    return {"tracks": [caller.render.track(t) if t else None for t in found]}
