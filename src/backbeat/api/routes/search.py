"""`GET /api/search`: the catalog, through backbeat's client (shared budget, cache, dedup)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backbeat.api.auth import Caller, ServicesDep
from backbeat.domain.search import MAX_RESULTS, Found, SearchType, search

router = APIRouter(prefix="/api", tags=["catalog"])


@router.get("/search")
async def search_catalog(
    caller: Caller,
    found: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    type: SearchType = "artist",
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
) -> Found:
    """Artists, albums or tracks by name, best matches first."""
    return await search(found.upstreams.spotify, q, type, limit)
