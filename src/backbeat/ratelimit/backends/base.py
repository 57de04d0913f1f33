"""The one protocol every backend implements, and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from backbeat.ratelimit.metrics import AppMetrics
from backbeat.ratelimit.policy import Policy, Window
from backbeat.ratelimit.rate import Priority

DecisionReason = Literal["granted", "window", "paused", "banned", "concurrency"]
OutcomeKind = Literal["success", "rate_limited", "quota", "server_error"]


@dataclass(frozen=True, slots=True)
class Acquire:
    """One attempt to take `cost` slots in every window of `windows`, atomically."""

    policy: Policy
    windows: tuple[Window, ...]
    priority: Priority
    cost: int
    waiter: str  # stable across the retries of one call, so waiters are counted once
    known_run: str | None  # the store's run id this process saw last (None: never saw one)
    # The caller will report the answer (`finish` with the grant's slot): until then its slots
    # count even when the call is out longer than the window. Unreported grants would count
    # until `lease_ttl`, so plain acquire-only callers leave it off.
    held: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    granted: bool
    reason: DecisionReason
    wait: float  # seconds until trying again makes sense (0 when granted)
    now: float  # the store's clock, epoch seconds
    run_id: str
    lease: str | None = None  # concurrency lease to release when the call ends
    ban_until: float | None = None
    slot: int | None = None  # the grant's first slot in its windows' logs (granted only)
    # Seconds over which the callers refused with this decision should scatter their retries, so
    # that a freed slot meets a few attempts rather than every waiter at once.
    spread: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the upstream answered to a granted call."""

    kind: OutcomeKind
    granted_at: float  # Decision.now of the grant: 429s of calls sent before a pause are old news
    retry_after: float | None = None  # None when the header was missing
    lease: str | None = None
    # The grant's slots (its windows, first slot, cost): they are held until the answer came
    # back, since the upstream counted the call at some moment before that (see memory.py).
    windows: tuple[Window, ...] = ()
    slot: int | None = None
    cost: int = 1


class Backend(Protocol):
    async def acquire(self, request: Acquire) -> Decision: ...

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        """Hold the grant's slots until now, release the lease and apply a 429 (pause,
        ceiling, ban) — one atomic step."""
        ...

    async def snapshot(self, policy: Policy) -> AppMetrics: ...

    def forget(self, app: str) -> None:
        """Drop what this process holds of `app` (an app it will not see again soon)."""
        ...

    async def close(self) -> None: ...
