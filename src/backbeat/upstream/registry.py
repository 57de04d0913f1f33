"""Which IDs an upstream knows: found for 30 days, missing for 7 (seed 004), so known-missing IDs
are never looked up again while the verdict is fresh.

Each verdict is stored with the time it was given, `[found, stamped_at]` as JSON, and judged
fresh by the injected clock; the store's own expiry only cleans up after that. A batch of IDs is
read in one round trip (cashews `get_many`: one MGET on Redis).

Keys: `{prefix}:{kind}:{id}`; `kind` separates namespaces (e.g. `reccobeats.track`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cashews import Cache

from backbeat.clock import Clock, SystemClock
from backbeat.upstream.cache import DAY, close_store, open_store

FOUND_TTL = 30 * DAY
MISSING_TTL = 7 * DAY


def _verdict(stored: Any, now: float) -> bool | None:
    """True/False while fresh, None when absent, stale or not a verdict we wrote."""
    if not (isinstance(stored, list) and len(stored) == 2):
        return None
    found, stamped_at = stored
    if not isinstance(found, bool) or not isinstance(stamped_at, int | float):
        return None
    fresh_for = FOUND_TTL if found else MISSING_TTL
    # A stamp slightly ahead of us (another host's clock) still counts as fresh.
    return found if now - stamped_at < fresh_for else None


class IdRegistry:
    def __init__(self, store: Cache, clock: Clock, *, prefix: str) -> None:
        self.store = store
        self.clock = clock
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, clock: Clock | None = None, *, prefix: str = "bb:id") -> IdRegistry:
        return cls(open_store(url, size=1_000_000), clock or SystemClock(), prefix=prefix)

    def _key(self, kind: str, id_: str) -> str:
        return f"{self.prefix}:{kind}:{id_}"

    async def lookup(self, kind: str, ids: Sequence[str]) -> dict[str, bool | None]:
        """Each distinct ID → True (found), False (known missing) or None (ask upstream)."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        stored = await self.store.get_many(*(self._key(kind, id_) for id_ in unique))
        now = self.clock.time()
        return {id_: _verdict(value, now) for id_, value in zip(unique, stored, strict=True)}

    async def mark(self, kind: str, found: Iterable[str] = (), missing: Iterable[str] = ()) -> None:
        """Record verdicts (an ID in both counts as found). One pipelined write per verdict."""
        now = self.clock.time()
        found_ids = set(found)
        missing_ids = set(missing) - found_ids
        for ids, verdict, ttl in ((found_ids, True, FOUND_TTL), (missing_ids, False, MISSING_TTL)):
            if ids:
                pairs = {self._key(kind, id_): [verdict, now] for id_ in ids}
                await self.store.set_many(pairs, expire=ttl)

    async def close(self) -> None:
        await close_store(self.store)
