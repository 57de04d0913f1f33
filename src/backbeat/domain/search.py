"""Catalog search for the apps: artists, albums or tracks by name, in pages of 10 — the most a
development-mode app may ask for at once — so the same code serves both quota modes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from backbeat.errors import InvalidRequest
from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.spotify.client import SpotifyClient

SearchType = Literal["artist", "album", "track"]
PAGE = 10
MAX_RESULTS = 50


class Found(BaseModel):
    type: SearchType
    total: int
    items: list[m.Artist] | list[m.AlbumRef] | list[m.Track]


async def search(spotify: SpotifyClient, q: str, kind: SearchType, limit: int = PAGE) -> Found:
    """Up to `limit` results; each page is a cached, deduplicated call at HIGH priority (a user
    is waiting for it)."""
    query = q.strip()
    if not query:
        raise InvalidRequest("q", "say what to search for")
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidRequest("limit", f"between 1 and {MAX_RESULTS}")
    items: list[m.Artist] | list[m.AlbumRef] | list[m.Track] = []
    total = 0
    offset = 0
    while offset < limit:
        size = min(PAGE, limit - offset)
        found = await spotify.search(
            query, (kind,), limit=size, offset=offset, priority=Priority.HIGH
        )
        page = {"artist": found.artists, "album": found.albums, "track": found.tracks}[kind]
        if page is None:
            break
        items += page.items  # type: ignore[operator]  # one list type per kind
        total = page.total
        offset += size
        if len(page.items) < size or offset >= total:
            break
    return Found(type=kind, total=total, items=items)
