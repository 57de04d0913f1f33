"""A snapshot of one app's limiter state, the same from every backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class WindowMetrics:
    key: str  # a:N (whole app), c:<class>:N, e:<endpoint>:N
    limit: int  # as configured
    period: float
    effective_limit: int  # after the adaptive ceiling (and the warm-up half window)
    used: int  # grants in the rolling window now
    reserve: int  # slots only HIGH may take now


@dataclass(frozen=True)
class AppMetrics:
    app: str
    multiplier: float
    pause_remaining: float
    ban_remaining: float
    warming_up: bool
    in_flight: int
    grants: int
    http_429: dict[str, int]  # by reason: rate, quota, ban
    waiters: dict[str, int]  # by priority name
    windows: list[WindowMetrics] = field(default_factory=list)
    # The ceiling that drew the last rate 429 (0: none yet): the ceiling grows back to one step
    # below it, and past it only after `forget_429_after` quiet windows.
    last_429: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
