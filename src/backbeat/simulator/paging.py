"""Query-parameter limits as the Web API enforces them, and paging objects with absolute links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL

from backbeat.simulator.errors import SpotifyError


@dataclass(frozen=True)
class PageLimits:
    default: int = 20
    maximum: int = 50
    max_offset: int | None = None


# Development-mode apps see the 2026 limits of the OpenAPI file; extended-quota apps keep the
# classic ones (the 2025 file) that most clients assume.
SEARCH_LIMITS = {"development": PageLimits(5, 10, 1000), "extended": PageLimits(20, 50, 1000)}
ARTIST_ALBUM_LIMITS = {"development": PageLimits(5, 10), "extended": PageLimits(20, 50)}
LIST_LIMITS = PageLimits()


def _integer(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SpotifyError(400, f"Invalid {name}") from None


def read_page(limit: str | None, offset: str | None, limits: PageLimits) -> tuple[int, int]:
    """`limit` and `offset` from the query, or a 400 with Spotify's message."""
    size = _integer("limit", limit, limits.default)
    start = _integer("offset", offset, 0)
    if not 1 <= size <= limits.maximum:
        raise SpotifyError(400, "Invalid limit")
    if start < 0 or (limits.max_offset is not None and start > limits.max_offset):
        raise SpotifyError(400, "Invalid offset")
    return size, start


def read_ids(raw: str | None, maximum: int, *, name: str = "ids") -> list[str]:
    if raw is None or not raw.strip():
        raise SpotifyError(400, f"Missing required parameter {name}")
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(ids) > maximum:
        raise SpotifyError(400, "Too many ids requested")
    return ids


def page(
    url: URL, items: Sequence[Any], total: int, limit: int, offset: int, **extra: Any
) -> dict[str, Any]:
    """A paging object over `items` (already sliced), `next`/`previous` on the request's base."""

    def at(start: int) -> str:
        return str(url.include_query_params(offset=start, limit=limit))

    return {
        "href": at(offset),
        "items": list(items),
        "limit": limit,
        "next": at(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": at(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
        **extra,
    }
