"""What one upstream app may do: its windows per operation class and per endpoint, a concurrency
cap, and how the limiter adapts (ceiling, pause, ban, reserve for interactive calls)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from backbeat.ratelimit.rate import OP_CLASSES, OpClass, Rate

# The seeds' defaults for Spotify, per rolling 30 s.
SPOTIFY_CLASS_RATES: Mapping[OpClass, tuple[Rate, ...]] = MappingProxyType(
    {"read": (Rate(80, 30),), "write": (Rate(30, 30),), "batch": (Rate(20, 30),)}
)


@dataclass(frozen=True, slots=True)
class Window:
    """One rolling window an acquire is checked against; `key` names its log in the store."""

    key: str
    rate: Rate


@dataclass(frozen=True)
class Policy:
    app: str
    classes: Mapping[OpClass, tuple[Rate, ...]] = field(default_factory=dict)
    endpoints: Mapping[str, tuple[Rate, ...]] = field(default_factory=dict)
    shared: tuple[Rate, ...] = ()  # windows over every call of the app, whatever its class
    concurrency: int | None = None  # in-flight calls across all processes
    lease_ttl: float = 30.0  # a lease of a process that died frees itself after this
    # The adaptive ceiling (a multiplier on every window's limit; see backends/memory.py
    # `ceiling`): a rate 429 of a call granted after the last decrease multiplies it by
    # `decrease_factor` (down to `min_multiplier`) and remembers the level that drew it; each
    # full recovery window since then adds `recovery_step`, up to one step below that level
    # only, until `forget_429_after` windows without a new 429 let it grow back to 1.
    min_multiplier: float = 0.25  # floor of the adaptive ceiling
    decrease_factor: float = 0.5  # a rate 429 multiplies the ceiling by this
    recovery_step: float = 0.1  # each full window without a 429 adds this back
    forget_429_after: int = 10  # windows (5 min for Spotify's 30 s) holding below the 429 level
    reserve_share: float = 0.25  # most of a window kept free for waiting HIGH calls
    pace: bool = True  # spread NORMAL/LOW grants evenly over each window (see memory.py)
    ban_threshold: float = 60.0  # a Retry-After above this is a ban, not a pause
    default_pause: float = 1.0  # pause after a 429 without a usable Retry-After, doubled ...
    max_default_pause: float = 30.0  # ... per consecutive 429, up to this

    def __post_init__(self) -> None:
        if not self.windows_of_all():
            raise ValueError(f"policy {self.app!r} has no window")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 < self.min_multiplier <= 1 or not 0 < self.decrease_factor < 1:
            raise ValueError("min_multiplier must be in (0, 1] and decrease_factor in (0, 1)")
        if self.recovery_step <= 0 or self.forget_429_after < 1:
            raise ValueError("recovery_step must be positive and forget_429_after at least 1")
        if self.max_default_pause > self.ban_threshold:
            raise ValueError("max_default_pause must not exceed ban_threshold")

    def windows(self, op_class: OpClass, endpoint: str | None = None) -> tuple[Window, ...]:
        """Every window one call of `op_class` (at `endpoint`) must fit into."""
        found = [Window(f"a:{i}", rate) for i, rate in enumerate(self.shared)]
        found += [
            Window(f"c:{op_class}:{i}", r) for i, r in enumerate(self.classes.get(op_class, ()))
        ]
        if endpoint is not None:
            found += [
                Window(f"e:{endpoint}:{i}", r)
                for i, r in enumerate(self.endpoints.get(endpoint, ()))
            ]
        return tuple(found)

    def windows_of_all(self) -> tuple[Window, ...]:
        seen: dict[str, Window] = {}
        for op_class in OP_CLASSES:
            for window in self.windows(op_class):
                seen[window.key] = window
        for endpoint in self.endpoints:
            for window in self.windows("read", endpoint):
                seen[window.key] = window
        return tuple(seen.values())

    @property
    def longest_period(self) -> float:
        return max(window.rate.period for window in self.windows_of_all())

    @property
    def recovery_period(self) -> float:
        """The adaptive ceiling's clock: the longest window the ceiling can lower. A minimum
        interval (a window of one) stays one call whatever the ceiling, so a long one must not
        slow the regrowth of the others."""
        lowered = [w.rate.period for w in self.windows_of_all() if w.rate.limit > 1]
        return max(lowered, default=self.longest_period)

    def divided(self, processes: int) -> Policy:
        """This policy's share for one of `processes` processes that cannot coordinate (the
        per-process fallback while the shared store is unreachable)."""

        def share(rates: tuple[Rate, ...]) -> tuple[Rate, ...]:
            return tuple(Rate(max(1, r.limit // processes), r.period) for r in rates)

        return replace(
            self,
            classes={k: share(v) for k, v in self.classes.items()},
            endpoints={k: share(v) for k, v in self.endpoints.items()},
            shared=share(self.shared),
            concurrency=None if self.concurrency is None else max(1, self.concurrency // processes),
        )
