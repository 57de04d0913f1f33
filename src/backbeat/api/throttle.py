"""Inbound limits: how often one user may start expensive work (an ingest, an insight, a
search), on backbeat's own limiter in reject mode — shared by every API process through Redis,
answered with 429 and Retry-After instead of a wait.

A limited route counts each attempt, whatever it asks, twice: first against the presented
session, keyed on the id its signed token names (verified without a query), so that a burst is
refused before any of it reaches the database; then, once the session has been looked up,
against the user, so that several sessions of one user share one allowance (see
`backbeat.api.auth.limited`)."""

from __future__ import annotations

from typing import Literal

from cachetools import LRUCache

from backbeat.clock import Clock
from backbeat.config import Settings
from backbeat.errors import TooManyRequests
from backbeat.ratelimit import Limiter, Policy, Priority, Rate, SlotTimeout

Action = Literal[
    "ingest",
    "insights",
    "organizer",
    "catalog",
    "discovery",
    "ranking",
    "passthrough",
    "api_tokens",
    "admin_login",
]
ADMIN_LOGINS = "10/600"  # per client address
# Keys (users, sessions, addresses) a process keeps a policy for; the least recently seen one
# beyond this is forgotten, so a long-running API does not grow with every session it saw.
REMEMBERED_KEYS = 100_000


class _Recent(LRUCache[str, None]):
    """Recently checked apps; the one pushed out is forgotten by the limiter."""

    def __init__(self, maxsize: int, limiter: Limiter, full_until: dict[str, float]) -> None:
        super().__init__(maxsize)
        self.limiter = limiter
        self.full_until = full_until

    def popitem(self) -> tuple[str, None]:
        app, value = super().popitem()
        self.limiter.forget(app)
        self.full_until.pop(app, None)
        return app, value


class InboundLimits:
    def __init__(
        self, limiter: Limiter, rates: dict[Action, Rate], remembered: int = REMEMBERED_KEYS
    ) -> None:
        self.limiter = limiter
        self.rates = rates
        # Window → until when it is known to be full. A window only frees up as its oldest
        # grant leaves, so until then a refusal needs no store round trip; asking would also
        # leave one more waiter in the store per refusal, each making the next check slower.
        self._full_until: dict[str, float] = {}
        self._recent = _Recent(remembered, limiter, self._full_until)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> InboundLimits:
        url = settings.redis_url or "memory://"
        auth = settings.auth
        rates: dict[Action, Rate] = {
            "ingest": Rate.parse(auth.ingest_rate),
            "insights": Rate.parse(auth.insights_rate),
            "organizer": Rate.parse(settings.organizer.scan_rate),
            "catalog": Rate.parse(auth.catalog_rate),
            "discovery": Rate.parse(auth.discovery_rate),
            "ranking": Rate.parse(auth.ranking_rate),
            "passthrough": Rate.parse(auth.passthrough_rate),
            "api_tokens": Rate.parse(auth.api_token_rate),
            "admin_login": Rate.parse(ADMIN_LOGINS),
        }
        return cls(Limiter.from_url(url, {}, clock), rates)

    async def check(self, action: Action, key: str) -> None:
        """Count one `action` of `key` (a user id, `session:<id>`, a client address), or raise
        `TooManyRequests` when over the limit."""
        app = f"inbound:{action}:{key}"
        self._recent[app] = None  # most recently seen now
        clock = self.limiter.clock
        full_until = self._full_until.get(app)
        if full_until is not None:
            if full_until > clock.time():
                raise TooManyRequests(action, full_until - clock.time())
            del self._full_until[app]
        if app not in self.limiter.policies:
            # A plain window: no pacing, no reserve (one caller, one priority).
            policy = Policy(app, classes={"read": (self.rates[action],)}, pace=False)
            self.limiter.register(policy)
        try:
            await self.limiter.acquire(app, "read", priority=Priority.HIGH, max_wait=0)
        except SlotTimeout as refused:
            self._full_until[app] = clock.time() + refused.retry_after
            raise TooManyRequests(action, refused.retry_after) from None

    async def close(self) -> None:
        await self.limiter.close()

    async def __aenter__(self) -> InboundLimits:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
