"""The one HTTP client a process uses for every upstream: HTTP/2, pooled, bounded."""

from __future__ import annotations

import httpx

MAX_CONNECTIONS = 200
MAX_KEEPALIVE = 50
KEEPALIVE_EXPIRY = 30.0


def make_http_client(
    *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """Owned by the process's lifespan (API or worker start-up) and shared by every client.
    `transport` is the seam tests use to reach the simulator in-process."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_KEEPALIVE,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return httpx.AsyncClient(
        http2=transport is None, limits=limits, timeout=timeout, transport=transport
    )
