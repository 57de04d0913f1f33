"""`GET /api/search` and `GET /api/albums/{id}`: the catalog, through backbeat's client (shared
budget, cache, dedup), at HIGH priority since a user is waiting; limited per user (`catalog`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from backbeat.api.auth import ServicesDep, limited
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.search import MAX_RESULTS, Found, SearchType, search
from backbeat.ratelimit import Priority
from backbeat.spotify.models import Album

router = APIRouter(prefix="/api", tags=["catalog"])
CatalogCaller = Annotated[CurrentSession, limited("catalog")]


@router.get("/search")
async def search_catalog(
    caller: CatalogCaller,
    found: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    type: SearchType = "artist",
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
) -> Found:
    """Artists, albums or tracks by name, best matches first."""
    return await search(found.upstreams.spotify, q, type, limit)


@router.get("/albums/{album_id}")
async def album(
    caller: CatalogCaller,
    found: ServicesDep,
    album_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{22}$")],
) -> Album:
    """One album with its first page of tracks, as Spotify describes it."""
    return await found.upstreams.spotify.album(album_id, priority=Priority.HIGH)
