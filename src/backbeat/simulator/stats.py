"""What the simulator saw, per app, endpoint and op class: the ground truth benchmarks read.

The snapshot's field names are a contract with the benchmark tools; change them only together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

OpClass = Literal["read", "write", "batch"]
OP_CLASSES: tuple[OpClass, ...] = get_args(OpClass)


class RollingMax:
    """The largest number of events in any rolling window `(t - window, t]`.

    The maximum over all windows is reached by a window ending at an event, so it suffices to
    count the live events each time one is added. Times must not decrease.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self.max = 0
        self._times: deque[float] = deque()

    def add(self, at: float) -> None:
        times = self._times
        # An event at exactly `at - window` has left the window (same rule as the enforcer).
        while times and times[0] + self.window <= at:
            times.popleft()
        times.append(at)
        self.max = max(self.max, len(times))


@dataclass
class _Counts:
    window: float
    requests: int = 0
    successes: int = 0
    http_429: int = 0
    http_5xx: int = 0
    rolling: RollingMax = field(init=False)

    def __post_init__(self) -> None:
        self.rolling = RollingMax(self.window)

    def respond(self, status: int) -> None:
        self.requests += 1
        if 200 <= status < 300:
            self.successes += 1
        elif status == 429:
            self.http_429 += 1
        elif status >= 500:
            self.http_5xx += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "successes": self.successes,
            "http_429": self.http_429,
            "http_5xx": self.http_5xx,
            "max_in_window": self.rolling.max,
        }


@dataclass(frozen=True)
class _Limits:
    limit: int
    window: float  # simulated seconds
    endpoint_windows: Mapping[str, float]  # simulated seconds


@dataclass
class _AppCounts:
    limits: _Limits
    total: _Counts
    by_endpoint: dict[str, _Counts] = field(default_factory=dict)
    by_class: dict[str, _Counts] = field(default_factory=dict)
    admitted_at: list[float] = field(default_factory=list)  # real seconds, for the timeline


class Stats:
    """Counters for one simulator process (one asyncio loop, so no locks).

    `at` arguments are real seconds on the enforcer's monotonic clock; windows are configured in
    simulated seconds and divided by `time_scale`, and reported unscaled so readers can compare
    them with what they configured.
    """

    def __init__(self, time_scale: float = 1.0, *, limit: int = 100, window: float = 30.0) -> None:
        self.time_scale = time_scale
        # Used for apps nobody configured, e.g. requests refused before enforcement.
        self._default = _Limits(limit, window, {})
        self._limits: dict[str, _Limits] = {}
        self._apps: dict[str, _AppCounts] = {}

    def configure(
        self,
        app: str,
        *,
        limit: int,
        window: float,
        endpoint_windows: Mapping[str, float] | None = None,
    ) -> None:
        """Set the window an app's counts are measured over; kept across `reset`."""
        self._limits[app] = _Limits(limit, window, dict(endpoint_windows or {}))

    def set_limit(self, app: str, limit: int) -> None:
        """The app's limit changed mid-run: report the new one (the counts stay)."""
        limits = self._limits.get(app, self._default)
        self._limits[app] = replace(limits, limit=limit)
        counts = self._apps.get(app)
        if counts is not None:
            counts.limits = replace(counts.limits, limit=limit)

    def admitted(self, app: str, endpoint: str, op_class: OpClass, at: float) -> None:
        """A request passed rate enforcement at real time `at`."""
        counts = self._app(app)
        counts.admitted_at.append(at)
        counts.total.rolling.add(at)
        self._endpoint(counts, endpoint).rolling.add(at)
        self._class(counts, op_class).rolling.add(at)

    def responded(self, app: str, endpoint: str, op_class: OpClass, status: int) -> None:
        """The final status of any request of the app, admitted or rejected."""
        counts = self._app(app)
        counts.total.respond(status)
        self._endpoint(counts, endpoint).respond(status)
        self._class(counts, op_class).respond(status)

    def snapshot(self) -> dict[str, Any]:
        apps: dict[str, Any] = {}
        for app, counts in self._apps.items():
            apps[app] = {
                **counts.total.as_dict(),
                "limit": counts.limits.limit,
                "window_s": counts.limits.window,
                "by_endpoint": {name: c.as_dict() for name, c in counts.by_endpoint.items()},
                # All classes always present, so readers need no default for an unused one.
                "by_class": {
                    name: counts.by_class[name].as_dict()
                    if name in counts.by_class
                    else _Counts(0).as_dict()
                    for name in OP_CLASSES
                },
            }
        return {"time_scale": self.time_scale, "apps": apps}

    def timeline(self, app: str) -> dict[str, Any]:
        """When each of the app's requests passed enforcement (real seconds on the enforcer's
        clock), with its limit and its window in real seconds: what a plot of requests per
        rolling window needs."""
        counts = self._apps.get(app)
        limits = counts.limits if counts else self._limits.get(app, self._default)
        return {
            "app": app,
            "limit": limits.limit,
            "window_real_s": self._real(limits.window),
            "admitted_at": list(counts.admitted_at) if counts else [],
        }

    def reset(self) -> None:
        """Forget every count; configured limits stay."""
        self._apps.clear()

    def _app(self, app: str) -> _AppCounts:
        counts = self._apps.get(app)
        if counts is None:
            limits = self._limits.get(app, self._default)
            counts = _AppCounts(limits, _Counts(self._real(limits.window)))
            self._apps[app] = counts
        return counts

    def _endpoint(self, counts: _AppCounts, endpoint: str) -> _Counts:
        found = counts.by_endpoint.get(endpoint)
        if found is None:
            window = counts.limits.endpoint_windows.get(endpoint, counts.limits.window)
            found = counts.by_endpoint[endpoint] = _Counts(self._real(window))
        return found

    def _class(self, counts: _AppCounts, op_class: str) -> _Counts:
        found = counts.by_class.get(op_class)
        if found is None:
            found = counts.by_class[op_class] = _Counts(self._real(counts.limits.window))
        return found

    def _real(self, seconds: float) -> float:
        return seconds / self.time_scale
