"""`GET /metrics`: this process's job metrics in Prometheus' text format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backbeat.api.deps import job_runtime
from backbeat.jobs.runtime import JobRuntime

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics(runtime: Annotated[JobRuntime, Depends(job_runtime)]) -> Response:
    body = generate_latest(runtime.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
