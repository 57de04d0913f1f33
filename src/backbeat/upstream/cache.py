"""JSON responses of upstream GET calls, cached per endpoint for that endpoint's TTL.

Stored through cashews as JSON text, never pickles: readable with redis-cli and safe across
Python and library versions. The JSON is orjson's (cashews' own `json` pickler re-encodes with
the standard library, ~10 times slower: on a busy worker it was a tenth of the CPU), handed to
cashews as bytes (its `null` pickler, which tags them `bytes:`). On Redis, cashews' "safe"
client turns a store that is down into misses and dropped writes instead of failed calls.

Keys: `{prefix}:{endpoint}:{sha256 of (endpoint, path?sorted query, user)}`. Endpoint names are
the simulator's stats names; ReccoBeats ones carry a `reccobeats.` prefix (`track` clashes).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from cashews import Cache

HOUR = 3600.0
DAY = 24 * HOUR

# Seconds per endpoint (ARCHITECTURE §4, seed 004). Catalog objects barely change; user data and
# playlists do, so those only absorb bursts. An endpoint missing here is not cached.
DEFAULT_TTLS: Mapping[str, float] = {
    "search": 30 * 60,
    "album": DAY,
    "albums": DAY,
    "album_tracks": DAY,
    "artist": 2 * HOUR,  # followers and popularity move
    "artists": 2 * HOUR,
    "artist_albums": 6 * HOUR,
    "artist_top_tracks": 6 * HOUR,
    "track": DAY,
    "tracks": DAY,
    "audio_features": DAY,
    "several_audio_features": DAY,
    "recommendations": HOUR,
    "me": 60,
    "top_items": 60,
    "recently_played": 60,
    "saved_tracks": 60,
    "my_playlists": 60,
    "playlist": 60,
    "playlist_items": 60,
    "user_playlists": 60,
    "reccobeats.track": 2 * HOUR,
    "reccobeats.track_recommendation": HOUR,
    "reccobeats.track_audio_features": DAY,
    "reccobeats.artist_search": 30 * 60,
    "reccobeats.artist_track": HOUR,
}

# Answers that depend on whose token asked: a key without a user would hand one user's data
# to another, so `key` refuses it.
USER_ENDPOINTS = frozenset({"me", "top_items", "recently_played", "saved_tracks", "my_playlists"})

Params = Mapping[str, str | int | float | bool | None]


def open_store(url: str, *, size: int, pickle_type: str = "json") -> Cache:
    """A private cashews `Cache` (never the global one) on `memory://`/`mem://` or `redis://…`,
    values as JSON (cashews' `json` pickler; `null`: the caller's own bytes). In memory, `size`
    bounds the LRU (cashews' default is 1000 entries) and the expiry sweep runs every minute,
    not every second over every key."""
    scheme, _, rest = url.partition("://")
    options: dict[str, Any] = {"pickle_type": pickle_type}
    if scheme in ("memory", "mem"):
        url, query = f"mem://{rest}", rest.partition("?")[2]
        if "size=" not in query:  # options given here would override the URL's
            options["size"] = size
        if "check_interval=" not in query:
            options["check_interval"] = 60
    store = Cache()
    store.setup(url, **options)
    return store


async def close_store(store: Cache) -> None:
    # cashews 7.6 closes its redis-py client with the `close()` that redis-py 5+ deprecates.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
        await store.close()


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):  # as httpx sends it
        return "true" if value else "false"
    return str(value)


def _decoded(value: Any) -> Any:
    """A stored value; anything but our JSON bytes (an entry of an older format, which cashews
    hands back as is or not at all) is a miss."""
    if not isinstance(value, bytes):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


class ResponseCache:
    def __init__(self, store: Cache, ttls: Mapping[str, float], *, prefix: str) -> None:
        self.store = store
        self.ttls = dict(ttls)
        self.prefix = prefix
        self._hits: Counter[str] = Counter()
        self._misses: Counter[str] = Counter()

    @classmethod
    def from_url(
        cls, url: str, ttls: Mapping[str, float] = DEFAULT_TTLS, *, prefix: str = "bb:c"
    ) -> ResponseCache:
        return cls(open_store(url, size=100_000, pickle_type="null"), ttls, prefix=prefix)

    def ttl(self, endpoint: str) -> float:
        """Seconds a response of `endpoint` is kept; 0 means it is not cached."""
        return max(0.0, float(self.ttls.get(endpoint, 0)))

    def key(self, endpoint: str, path: str, params: Params | None, user: str | None) -> str:
        """Stable across processes and releases: the same request always maps to the same key.
        Query order does not matter; None values are dropped (they are not sent either)."""
        if user is None and endpoint in USER_ENDPOINTS:
            raise ValueError(f"{endpoint} answers per user: its cache key needs the user id")
        query = urlencode(sorted((k, _text(v)) for k, v in (params or {}).items() if v is not None))
        identity = json.dumps([endpoint, f"{path}?{query}", user], separators=(",", ":"))
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"{endpoint}:{digest}"

    async def get(self, endpoint: str, key: str) -> Any | None:
        if not self.ttl(endpoint):
            return None  # never stored, so not a miss worth counting
        value = _decoded(await self.store.get(f"{self.prefix}:{key}"))
        (self._hits if value is not None else self._misses)[endpoint] += 1
        return value

    async def set(self, endpoint: str, key: str, value: Any) -> None:
        ttl = self.ttl(endpoint)
        if ttl and value is not None:
            await self.store.set(f"{self.prefix}:{key}", orjson.dumps(value), expire=ttl)

    async def get_many(self, endpoint: str, keys: Sequence[str]) -> list[Any | None]:
        """`get` for several keys of one endpoint in one round trip (one MGET on Redis)."""
        if not keys or not self.ttl(endpoint):
            return [None] * len(keys)
        stored = await self.store.get_many(*(f"{self.prefix}:{key}" for key in keys))
        values = [_decoded(value) for value in stored]
        hits = sum(value is not None for value in values)
        self._hits[endpoint] += hits
        self._misses[endpoint] += len(keys) - hits
        return values

    async def set_many(self, endpoint: str, values: Mapping[str, Any]) -> None:
        """`set` for several keys of one endpoint in one round trip; None values are skipped."""
        ttl = self.ttl(endpoint)
        pairs = {f"{self.prefix}:{k}": orjson.dumps(v) for k, v in values.items() if v is not None}
        if ttl and pairs:
            await self.store.set_many(pairs, expire=ttl)

    def metrics(self) -> dict[str, dict[str, int]]:
        """Hits and misses per endpoint since this process started."""
        names = sorted(set(self._hits) | set(self._misses))
        return {name: {"hits": self._hits[name], "misses": self._misses[name]} for name in names}

    async def close(self) -> None:
        await close_store(self.store)
