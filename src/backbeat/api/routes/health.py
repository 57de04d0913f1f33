"""Health for load balancers and deploy checks.

- `GET /health/live`: the process answers (liveness; restart it when this fails).
- `GET /health`: readiness — 200 when the database, Redis (when configured), the limiter's store
  and the job queues answer; 503 naming what failed (with `Retry-After`, as every 503 of the
  API), so traffic goes elsewhere meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backbeat.api.auth import ServicesDep
from backbeat.api.deps import job_runtime
from backbeat.jobs.runtime import JobRuntime

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT = 3.0  # seconds: a check that hangs is a failed check
RETRY_AFTER = 5  # seconds, on a 503: ask again soon


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health")
async def health(
    found: ServicesDep, runtime: Annotated[JobRuntime, Depends(job_runtime)]
) -> JSONResponse:
    async def database() -> Any:
        async with runtime.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return "ok"

    async def queues() -> Any:
        # Huey's storages block: counted off the loop.
        names = runtime.queues.names
        return await asyncio.to_thread(lambda: {n: runtime.queues.pending(n) for n in names})

    async def limiter() -> Any:
        app = next(iter(found.upstreams.limiter.policies))
        await found.upstreams.limiter.snapshot(app)
        return "ok"

    checks: dict[str, Callable[[], Awaitable[Any]]] = {
        "database": database,
        "limiter": limiter,
        "queues": queues,
    }
    redis = found.upstreams.redis
    if redis is not None:

        async def ping() -> Any:
            await redis.ping()
            return "ok"

        checks["redis"] = ping
    results: dict[str, Any] = {}
    healthy = True
    for name, check in checks.items():
        try:
            results[name] = await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except Exception as error:  # any failure is the answer, not a 500
            results[name] = f"unavailable: {type(error).__name__}"
            healthy = False
    body = {"status": "ok" if healthy else "unavailable", "checks": results}
    if healthy:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
