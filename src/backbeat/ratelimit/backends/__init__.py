"""Stores of the limiter's state, chosen by URL: `memory://` or `redis://…` (also `rediss://`,
`unix://`)."""

from __future__ import annotations

from backbeat.ratelimit.backends.base import Backend
from backbeat.ratelimit.clock import TimeSource, WallClock


def open_backend(url: str, clock: TimeSource | None = None) -> Backend:
    scheme = url.partition("://")[0]
    if scheme == "memory":
        from backbeat.ratelimit.backends.memory import MemoryBackend

        return MemoryBackend(clock or WallClock())
    if scheme in ("redis", "rediss", "unix"):
        from backbeat.ratelimit.backends.redis import RedisBackend

        return RedisBackend.from_url(url)
    raise ValueError(f"no rate-limit backend for {url!r} (memory:// or redis://…)")
