"""Inbound limits: how often one user may start expensive work (an ingest, an insight), on
backbeat's own limiter in reject mode — shared by every API process through Redis, answered
with 429 and Retry-After instead of a wait."""

from __future__ import annotations

from typing import Literal

from backbeat.config import Settings
from backbeat.errors import TooManyRequests
from backbeat.ratelimit import Limiter, Policy, Priority, Rate, SlotTimeout

Action = Literal["ingest", "insights", "organizer", "admin_login"]
ADMIN_LOGINS = "10/600"  # per client address


class InboundLimits:
    def __init__(self, limiter: Limiter, rates: dict[Action, Rate]) -> None:
        self.limiter = limiter
        self.rates = rates

    @classmethod
    def from_settings(cls, settings: Settings) -> InboundLimits:
        url = settings.redis_url or "memory://"
        rates: dict[Action, Rate] = {
            "ingest": Rate.parse(settings.auth.ingest_rate),
            "insights": Rate.parse(settings.auth.insights_rate),
            "organizer": Rate.parse(settings.organizer.scan_rate),
            "admin_login": Rate.parse(ADMIN_LOGINS),
        }
        return cls(Limiter.from_url(url, {}), rates)

    async def check(self, action: Action, user_id: str) -> None:
        """Count one `action` of `user_id`, or raise `TooManyRequests` when over the limit."""
        app = f"inbound:{action}:{user_id}"
        if app not in self.limiter.policies:
            # A plain window: no pacing, no reserve (one caller, one priority).
            policy = Policy(app, classes={"read": (self.rates[action],)}, pace=False)
            self.limiter.register(policy)
        try:
            await self.limiter.acquire(app, "read", priority=Priority.HIGH, max_wait=0)
        except SlotTimeout as refused:
            raise TooManyRequests(action, refused.retry_after) from None

    async def close(self) -> None:
        await self.limiter.close()

    async def __aenter__(self) -> InboundLimits:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
