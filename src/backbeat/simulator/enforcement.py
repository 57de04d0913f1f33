"""Spotify's rate enforcement as the simulator models it: rolling windows per app (and per
endpoint), cooldowns that grow when an app keeps calling, unreliable Retry-After, daily quotas.

Every period is configured in simulated seconds and divided by `time_scale` before it meets the
clock, so all state here is in real seconds of `clock.monotonic()`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from backbeat.clock import Clock
from backbeat.config import RetryAfterMode, SimulatorSettings, WindowLimit
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.stats import OpClass, Stats

DAY = 86_400.0
RATE_MESSAGE = "API rate limit exceeded"
QUOTA_MESSAGE = "Daily request quota exceeded"


@dataclass(frozen=True)
class EnforcementPolicy:
    limit: int
    window: float
    endpoint_limits: Mapping[str, WindowLimit] = field(default_factory=dict)
    daily_quota: int = 0  # 0 = no quota
    cooldown_growth: float = 1.5
    cooldown_max: float = 600.0
    retry_after_mode: RetryAfterMode = "honest"
    time_scale: float = 1.0

    @classmethod
    def spotify(cls, settings: SimulatorSettings) -> EnforcementPolicy:
        return cls(
            limit=settings.limit,
            window=settings.window,
            endpoint_limits=dict(settings.endpoint_limits),
            daily_quota=settings.daily_quota,
            cooldown_growth=settings.cooldown_growth,
            cooldown_max=settings.cooldown_max,
            retry_after_mode=settings.retry_after_mode,
            time_scale=settings.time_scale,
        )

    @classmethod
    def reccobeats(cls, settings: SimulatorSettings) -> EnforcementPolicy:
        # ReccoBeats publishes nothing beyond a plain window; its Retry-After is trustworthy.
        return cls(
            limit=settings.reccobeats_limit,
            window=settings.reccobeats_window,
            cooldown_growth=settings.cooldown_growth,
            cooldown_max=settings.cooldown_max,
            time_scale=settings.time_scale,
        )

    def real(self, seconds: float) -> float:
        """A simulated period in real clock seconds."""
        return seconds / self.time_scale


class _Window:
    """An exact sliding log: at most `limit` admissions in any `(t - window, t]`."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def free_at(self, now: float) -> float:
        """When the window can next admit; `now` if it has room."""
        times = self.times
        while times and times[0] + self.window <= now:
            times.popleft()
        if len(times) < self.limit:
            return now
        return times[-self.limit] + self.window


@dataclass
class _AppState:
    window: _Window
    endpoints: dict[str, _Window]
    day_start: float
    day_count: int = 0
    cooldown_until: float = -math.inf


def format_retry_after(seconds: float, time_scale: float) -> str:
    """A Retry-After value, rounded up so that waiting it is always enough.

    Real Spotify sends whole seconds. With a time scale the real waits are sub-second, so the
    simulator then sends real seconds with millisecond precision (e.g. "0.300"), an extension
    that lets time-scaled benchmarks run fast; clients must parse it as a float.
    """
    if time_scale == 1:
        return str(max(1, math.ceil(seconds)))
    return f"{max(1, math.ceil(seconds * 1000)) / 1000:.3f}"


class Enforcer:
    """Admits or refuses each call of an app; refusals are raised as `SpotifyError(429)`."""

    def __init__(self, policy: EnforcementPolicy, clock: Clock, stats: Stats) -> None:
        self.policy = policy
        self.clock = clock
        self.stats = stats
        self._apps: dict[str, _AppState] = {}

    def admit(self, app: str, endpoint: str, op_class: OpClass) -> None:
        now = self.clock.monotonic()
        state = self._state(app, now)
        self._check_quota(state, now)
        if now < state.cooldown_until:
            # Calling during a cooldown makes it longer, never shorter than it already was.
            remaining = state.cooldown_until - now
            grown = min(
                remaining * self.policy.cooldown_growth, self.policy.real(self.policy.cooldown_max)
            )
            state.cooldown_until = now + max(remaining, grown)
            raise self._rate_error(state.cooldown_until - now)
        windows = [state.window]
        if endpoint in self.policy.endpoint_limits:
            windows.append(self._endpoint_window(state, endpoint))
        free_at = max(w.free_at(now) for w in windows)
        if free_at > now:
            state.cooldown_until = free_at
            raise self._rate_error(free_at - now)
        for w in windows:
            w.times.append(now)
        state.day_count += 1
        self.stats.admitted(app, endpoint, op_class, now)

    def reset(self) -> None:
        self._apps.clear()

    def set_limit(self, limit: int) -> int:
        """Change every app's window limit from now on (the app's log is kept, so a lower limit
        refuses calls until enough of the window has expired); returns the previous limit."""
        previous = self.policy.limit
        self.policy = replace(self.policy, limit=limit)
        for app, state in self._apps.items():
            state.window.limit = limit
            self.stats.set_limit(app, limit)
        return previous

    def snapshot_app(self, app: str) -> dict[str, Any] | None:
        """The app's live enforcement state, in real seconds; None for an unseen app."""
        state = self._apps.get(app)
        if state is None:
            return None
        now = self.clock.monotonic()
        state.window.free_at(now)  # prunes the log
        return {
            "in_window": len(state.window.times),
            "cooldown_remaining": max(0.0, state.cooldown_until - now),
            "day_count": state.day_count,
        }

    def _state(self, app: str, now: float) -> _AppState:
        state = self._apps.get(app)
        if state is None:
            policy = self.policy
            state = _AppState(_Window(policy.limit, policy.real(policy.window)), {}, day_start=now)
            self._apps[app] = state
            self.stats.configure(
                app,
                limit=policy.limit,
                window=policy.window,
                endpoint_windows={k: v.window for k, v in policy.endpoint_limits.items()},
            )
        return state

    def _endpoint_window(self, state: _AppState, endpoint: str) -> _Window:
        window = state.endpoints.get(endpoint)
        if window is None:
            limit = self.policy.endpoint_limits[endpoint]
            window = _Window(limit.count, self.policy.real(limit.window))
            state.endpoints[endpoint] = window
        return window

    def _check_quota(self, state: _AppState, now: float) -> None:
        quota = self.policy.daily_quota
        if quota <= 0:
            return
        day = self.policy.real(DAY)
        if now >= state.day_start + day:
            # Days are counted from the app's first request, back to back.
            state.day_start += math.floor((now - state.day_start) / day) * day
            state.day_count = 0
        if state.day_count >= quota:
            # A day-long ban: always honest, whatever the configured Retry-After mode.
            wait = state.day_start + day - now
            raise SpotifyError(
                429,
                QUOTA_MESSAGE,
                reason="QUOTA_EXCEEDED",
                headers={"Retry-After": format_retry_after(wait, self.policy.time_scale)},
            )

    def _rate_error(self, remaining: float) -> SpotifyError:
        mode = self.policy.retry_after_mode
        headers: dict[str, str] = {}
        if mode == "zero":
            headers["Retry-After"] = "0"
        elif mode != "missing":
            # "early" advertises about half the wait: a client that trusts it gets a fresh 429.
            wait = remaining / 2 if mode == "early" else remaining
            headers["Retry-After"] = format_retry_after(wait, self.policy.time_scale)
        return SpotifyError(429, RATE_MESSAGE, headers=headers)
