"""The operators' dashboard at `/dashboard`: live budget use per app and class against the
limit, pauses and bans, waiters, queues, job outcomes, the cache's hit rate, 429s and recent
failed jobs — for the holder of the admin token.

`open_dashboard` is entered by the API's lifespan: it keys the dashboard's cookie and samples the
limiter in the background for the charts; `router` serves the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from backbeat.api.dashboard.access import AdminAccess
from backbeat.api.dashboard.history import BudgetHistory, sampling
from backbeat.api.dashboard.routes import router
from backbeat.domain.accounts import session_secret
from backbeat.domain.services import Services

__all__ = ["Dashboard", "open_dashboard", "router"]

SAMPLE_INTERVAL = 1.0  # seconds between samples of the limiter
SAMPLES_KEPT = 300  # five minutes of them


@dataclass(frozen=True, slots=True)
class Dashboard:
    access: AdminAccess
    history: BudgetHistory


@asynccontextmanager
async def open_dashboard(
    services: Services, *, interval: float = SAMPLE_INTERVAL
) -> AsyncIterator[Dashboard]:
    auth = services.settings.auth
    access = AdminAccess(
        auth.admin_token, session_secret(services.settings), secure=auth.cookie_secure
    )
    history = BudgetHistory(services.upstreams.limiter, services.clock, keep=SAMPLES_KEPT)
    async with sampling(history, interval):
        yield Dashboard(access, history)
