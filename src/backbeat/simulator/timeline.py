"""`GET /_sim/timeline/{app}`: when each of an app's requests was admitted, for benchmarks that
plot requests per rolling window against the limit (the counts alone hide when they came)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from backbeat.simulator.state import simulator_of

router = APIRouter(prefix="/_sim", tags=["simulator"])


@router.get("/timeline/{app}")
async def timeline(app: str, request: Request) -> dict[str, Any]:
    return simulator_of(request).stats.timeline(app)
