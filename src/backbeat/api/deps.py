"""What routes depend on, taken from the application's state (set up by the lifespan).

All `async def`, though none awaits: FastAPI runs a plain `def` dependency in its thread pool,
a hop per dependency per request, queued behind every other request's (under a burst, 429s
included)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backbeat.api.throttle import InboundLimits
from backbeat.jobs.lifecycle import JobStore
from backbeat.jobs.runtime import JobRuntime


async def job_runtime(request: Request) -> JobRuntime:
    runtime: JobRuntime = request.app.state.jobs
    return runtime


async def job_store(runtime: Annotated[JobRuntime, Depends(job_runtime)]) -> JobStore:
    return runtime.store


JobStoreDep = Annotated[JobStore, Depends(job_store)]


JobRuntimeDep = Annotated[JobRuntime, Depends(job_runtime)]


async def inbound_limits(request: Request) -> InboundLimits:
    limits: InboundLimits = request.app.state.inbound
    return limits


InboundDep = Annotated[InboundLimits, Depends(inbound_limits)]
