"""The FastAPI application. Its lifespan owns the process's long-lived resources — the
database engine and the job runtime, with the job consumers in embedded mode — and closes them
on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backbeat.api import dashboard
from backbeat.api.errors import install_error_handlers
from backbeat.api.routes import (
    auth,
    discovery,
    health,
    insights,
    listening,
    metrics,
    organizer,
    passthrough,
    ranking,
    search,
    status,
    tasks,
    users,
)
from backbeat.api.throttle import InboundLimits
from backbeat.api.timing import LimiterTiming
from backbeat.config import Settings
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from backbeat.jobs.runtime import Plugin

log = logging.getLogger(__name__)


def consumers_enabled(settings: Settings) -> bool:
    """Embedded mode (no Redis): this process consumes the jobs it enqueues. With Redis the
    workers do, unless the API is told to as well."""
    choice = settings.api.consumers
    return choice == "on" or (choice == "auto" and not settings.redis_url)


def create_app(settings: Settings | None = None, *, plugins: Iterable[Plugin] = ()) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        consumers = consumers_enabled(settings)
        async with (
            InboundLimits.from_settings(settings) as inbound,
            open_services(settings) as services,
            embedded_jobs(services, consumers=consumers, plugins=plugins) as jobs,
            dashboard.open_dashboard(services) as board,
        ):
            app.state.services = services
            app.state.jobs = jobs
            app.state.consumers = consumers
            app.state.inbound = inbound
            app.state.dashboard = board
            log.info("API ready (job consumers %s)", "embedded" if consumers else "elsewhere")
            yield

    app = FastAPI(title="backbeat", lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(LimiterTiming)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(listening.router)
    app.include_router(insights.router)
    app.include_router(search.router)
    app.include_router(ranking.router)
    app.include_router(discovery.router)
    app.include_router(organizer.router)
    app.include_router(tasks.router)
    app.include_router(metrics.router)
    app.include_router(status.router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.include_router(passthrough.router, prefix="/v1")  # Spotify's API, for our users
    return app
