"""`GET /health`: for load balancers and deploy checks — 200 when the database and the job
queues answer, 503 (with what failed) when one does not."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backbeat.api.deps import job_runtime
from backbeat.jobs.runtime import JobRuntime

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(runtime: Annotated[JobRuntime, Depends(job_runtime)]) -> JSONResponse:
    checks: dict[str, Any] = {}
    healthy = True
    try:
        async with runtime.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure is the answer, not a 500
        checks["database"] = f"unavailable: {type(error).__name__}"
        healthy = False
    try:
        # Huey's storages block: counted off the loop.
        pending = await asyncio.to_thread(
            lambda: {name: runtime.queues.pending(name) for name in runtime.queues.names}
        )
        checks["queues"] = pending
    except Exception as error:
        checks["queues"] = f"unavailable: {type(error).__name__}"
        healthy = False
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
