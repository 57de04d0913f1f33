"""The limiter's state in this process (`memory://`): the reference implementation of the
algorithm the Redis scripts run, on an injected clock. Exact sliding-window logs.

How HIGH calls stay fast while NORMAL/LOW saturate the budget:
- NORMAL and LOW leave free a reserve of one slot plus one per waiting HIGH call (at most
  `reserve_share` of the window); HIGH may take every slot.
- NORMAL and LOW grants are paced: one per `period / limit` in each window, a retry up to one
  spacing late keeping its place (GCRA on top of the log). Without pacing a saturated window's
  grants cluster (everyone refills the instant a burst expires) and a slot frees up only once per
  cluster, up to a whole period away; paced, one frees up every `period / limit`, so a HIGH call
  waits at most about one such expiry and the reserve can stay at one slot: a pure batch load
  uses limit - 1 of limit.
- Refusals carry a `spread`: waiters scatter their retries over it, a few per freed slot, instead
  of all waking at the same instant (that herd costs round trips and latency on a shared store).

A slot is held from the grant until the call's answer came back (`finish` moves it to that
moment): the upstream counted the call when it arrived, somewhere in between, and only the
answer's time bounds that from above. Held from the grant alone, a call delayed on its way (a
busy machine, a slow network) would count in a later upstream window than in ours, and a full
window could draw a 429. A call out longer than the window has left the log by then: a `held`
grant (its caller will report) still counts, as "out", until its answer moves it back in (or
`lease_ttl` takes its process for dead).
The price is a call's round trip per slot: a little of the budget, none of it lost to a 429.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, deque
from contextlib import suppress
from dataclasses import dataclass, field

from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome
from backbeat.ratelimit.clock import TimeSource
from backbeat.ratelimit.metrics import AppMetrics, WindowMetrics
from backbeat.ratelimit.policy import Policy, Window
from backbeat.ratelimit.rate import Priority

WAITER_GRACE = 1.0  # a waiter that stops retrying is forgotten this long after its wait ends
ATTEMPTS_PER_SLOT = 3.0  # how many scattered retries should meet each freed slot


@dataclass
class _State:
    logs: dict[str, deque[float]] = field(default_factory=dict)
    out: dict[str, dict[int, float]] = field(default_factory=dict)  # window → slot → grant time
    paced: dict[str, float] = field(default_factory=dict)  # window → next NORMAL/LOW slot (TAT)
    multiplier: float = 1.0  # the ceiling as the last 429 episode lowered it (see `ceiling`)
    last_429: float = 0.0  # the ceiling that drew that 429 (0: none yet)
    pause_until: float = 0.0
    paused_at: float = -math.inf  # when the current pause episode began (the last decrease)
    strikes: int = 0  # consecutive 429s, for the default pause
    ban_until: float = 0.0
    warm_until: float = 0.0
    leases: dict[str, float] = field(default_factory=dict)  # lease id → expiry
    waiters: dict[str, tuple[Priority, float]] = field(default_factory=dict)  # → expiry
    waiting: dict[str, dict[str, float]] = field(default_factory=dict)  # window → waiter → expiry
    grants: int = 0
    http_429: Counter[str] = field(default_factory=Counter)


def ceiling(state: _State, policy: Policy, now: float) -> float:
    """The adaptive ceiling now, a function of the time since the last decrease (so idle time
    and pauses count, and nothing needs an acquire to recover): one `recovery_step` back per full
    recovery window, but no higher than one step below the level that drew the last 429 — a limit
    that really dropped is not probed again every few windows. After `forget_429_after` windows
    without a new 429 that memory lapses and the ceiling grows on to 1, to find a limit that
    came back up."""
    lowered = state.multiplier
    if lowered >= 1:
        return lowered
    step, forget = policy.recovery_step, policy.forget_429_after
    windows = max(0, math.floor((now - state.paused_at) / policy.recovery_period))
    held = max(lowered, state.last_429 - step) if state.last_429 > 0 else 1.0
    if windows < forget:
        return min(held, lowered + windows * step)
    return min(1.0, min(held, lowered + (forget - 1) * step) + (windows - forget + 1) * step)


def effective_limit(limit: int, multiplier: float, warming: bool) -> int:
    effective = max(1, math.floor(limit * multiplier + 1e-9))
    return max(1, effective // 2) if warming else effective


def reserve_for(effective: int, policy: Policy, high_waiting: int) -> int:
    """Free slots NORMAL/LOW leave for HIGH: one, plus one per HIGH call waiting now, at most a
    share of the window (none in windows too small to share, e.g. a minimum interval)."""
    return min(math.floor(effective * policy.reserve_share), 1 + high_waiting)


class MemoryBackend:
    def __init__(self, clock: TimeSource) -> None:
        self.clock = clock
        self.run_id = uuid.uuid4().hex
        self._apps: dict[str, _State] = {}

    def _state(self, app: str) -> _State:
        if app not in self._apps:
            self._apps[app] = _State()
        return self._apps[app]

    async def acquire(self, request: Acquire) -> Decision:
        policy, now = request.policy, self.clock.time()
        state = self._state(policy.app)
        multiplier = ceiling(state, policy, now)

        def wait(reason: str, seconds: float) -> Decision:
            expiry = now + seconds + WAITER_GRACE
            state.waiters[request.waiter] = (request.priority, expiry)
            for window in request.windows:
                state.waiting.setdefault(window.key, {})[request.waiter] = expiry
            # The window with the widest spacing frees slots slowest; its waiters (of any
            # priority) are the rivals.
            spacing, binding = max(
                (w.rate.period / effective_limit(w.rate.limit, multiplier, warming), -i)
                for i, w in enumerate(request.windows)
            )
            waiting = state.waiting[request.windows[-binding].key]
            for stale in [w for w, exp in waiting.items() if exp <= now]:
                del waiting[stale]
            spread = spacing * (len(waiting) - 1) / ATTEMPTS_PER_SLOT
            return Decision(False, reason, seconds, now, self.run_id, spread=spread)  # type: ignore[arg-type]

        warming = state.warm_until > now
        if state.ban_until > now:
            return Decision(False, "banned", state.ban_until - now, now, self.run_id,
                            ban_until=state.ban_until)  # fmt: skip
        if state.pause_until > now:
            return wait("paused", state.pause_until - now)
        state.leases = {k: exp for k, exp in state.leases.items() if exp > now}
        if policy.concurrency is not None and len(state.leases) >= policy.concurrency:
            return wait("concurrency", min(min(state.leases.values()) - now, 0.05))

        state.waiters = {w: v for w, v in state.waiters.items() if v[1] > now}
        high_waiting = sum(
            1 for w, (p, _) in state.waiters.items() if p == Priority.HIGH and w != request.waiter
        )
        needed = 0.0
        for window in request.windows:
            log = self._log(state, window, now)
            late = self._late(state, window, policy, now)
            effective = effective_limit(window.rate.limit, multiplier, warming)
            allowed = effective
            if request.priority != Priority.HIGH:
                allowed -= reserve_for(effective, policy, high_waiting)
                if policy.pace:
                    spacing = window.rate.period / effective
                    earliest = state.paced.get(window.key, -math.inf) - spacing
                    needed = max(needed, earliest - now)
            over = len(log) + late + request.cost - allowed
            if over > 0:
                # Wait until the `over`-th oldest logged slot leaves the window (or a full
                # period when the cost can never fit, e.g. a LOW call while the reserve is
                # maxed, or when calls out must come back first: they then stay a period).
                index = over - 1
                free_at = (
                    log[index] + window.rate.period
                    if index < len(log)
                    else now + window.rate.period
                )
                needed = max(needed, free_at - now)
        if needed > 0:
            return wait("window", needed)

        for window in request.windows:
            state.logs[window.key].extend([now] * request.cost)
            if request.priority != Priority.HIGH and policy.pace:
                spacing = window.rate.period / effective_limit(
                    window.rate.limit, multiplier, warming
                )
                # Catching up by up to one spacing keeps a slightly late retry on the schedule.
                theoretical = max(state.paced.get(window.key, -math.inf), now - spacing)
                state.paced[window.key] = theoretical + spacing * request.cost
        slot = state.grants + 1
        for window in request.windows if request.held else ():
            out = state.out.setdefault(window.key, {})
            out.update(dict.fromkeys(range(slot, slot + request.cost), now))
        state.grants += request.cost
        state.waiters.pop(request.waiter, None)
        for window in request.windows:
            state.waiting.get(window.key, {}).pop(request.waiter, None)
        lease = None
        if policy.concurrency is not None:
            lease = uuid.uuid4().hex
            state.leases[lease] = now + policy.lease_ttl
        return Decision(True, "granted", 0.0, now, self.run_id, lease=lease, slot=slot)

    @staticmethod
    def _late(state: _State, window: Window, policy: Policy, now: float) -> int:
        """Slots of calls out longer than the window (no longer in its log); calls out longer
        than `lease_ttl` are forgotten: their process died."""
        out = state.out.setdefault(window.key, {})
        for slot in [s for s, granted in out.items() if granted <= now - policy.lease_ttl]:
            del out[slot]
        return sum(1 for granted in out.values() if granted <= now - window.rate.period)

    def _log(self, state: _State, window: Window, now: float) -> deque[float]:
        log = state.logs.setdefault(window.key, deque())
        horizon = now - window.rate.period
        while log and log[0] <= horizon:
            log.popleft()
        return log

    @staticmethod
    def _hold(log: deque[float], outcome: Outcome, now: float) -> None:
        """Move the grant's slots from its grant time to now (the Redis script moves its members;
        slots of one time are alike here). A slot that left the log meanwhile, its call in flight
        longer than the window, comes back: it may have arrived a moment ago. Every entry is at
        most now, so the log stays in order."""
        for _ in range(outcome.cost):
            with suppress(ValueError):  # not there: it left the log
                log.remove(outcome.granted_at)
            log.append(now)

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        now = self.clock.time()
        state = self._state(policy.app)
        if outcome.lease is not None:
            state.leases.pop(outcome.lease, None)
        if outcome.slot is not None:
            for window in outcome.windows:
                self._hold(state.logs.setdefault(window.key, deque()), outcome, now)
                out = state.out.get(window.key, {})
                for slot in range(outcome.slot, outcome.slot + outcome.cost):
                    out.pop(slot, None)
        if outcome.kind == "quota" or (
            outcome.kind == "rate_limited" and (outcome.retry_after or 0) > policy.ban_threshold
        ):
            reason = "quota" if outcome.kind == "quota" else "ban"
            state.http_429[reason] += 1
            # A quota 429 without a usable Retry-After still bans for at least the threshold.
            length = max(outcome.retry_after or 0.0, policy.ban_threshold)
            state.ban_until = max(state.ban_until, now + length)
        elif outcome.kind == "rate_limited":
            state.http_429["rate"] += 1
            if outcome.granted_at <= state.paused_at:
                # Granted before the last decrease: a call already in flight when the episode
                # began, answered by the same overload. Counted once: no longer pause, no
                # second decrease.
                return
            multiplier = ceiling(state, policy, now)
            if now - state.paused_at >= policy.recovery_period:
                state.strikes = 0  # a quiet window: the default pause starts over
            state.strikes += 1
            pause = outcome.retry_after or min(
                policy.max_default_pause, policy.default_pause * 2 ** (state.strikes - 1)
            )
            state.pause_until = max(state.pause_until, now + pause)
            state.paused_at = now
            state.last_429 = multiplier
            state.multiplier = max(policy.min_multiplier, multiplier * policy.decrease_factor)

    async def snapshot(self, policy: Policy) -> AppMetrics:
        now = self.clock.time()
        state = self._state(policy.app)
        warming = state.warm_until > now
        multiplier = ceiling(state, policy, now)
        live = [p for p, exp in state.waiters.values() if exp > now]
        windows = []
        for window in policy.windows_of_all():
            log = self._log(state, window, now)
            effective = effective_limit(window.rate.limit, multiplier, warming)
            reserve = reserve_for(effective, policy, live.count(Priority.HIGH))
            windows.append(
                WindowMetrics(
                    window.key, window.rate.limit, window.rate.period, effective, len(log), reserve
                )
            )
        return AppMetrics(
            app=policy.app,
            multiplier=multiplier,
            pause_remaining=max(0.0, state.pause_until - now),
            ban_remaining=max(0.0, state.ban_until - now),
            warming_up=warming,
            in_flight=sum(1 for exp in state.leases.values() if exp > now),
            grants=state.grants,
            http_429={reason: state.http_429[reason] for reason in ("rate", "quota", "ban")},
            waiters={p.name: sum(1 for q in live if q == p) for p in Priority},
            last_429=state.last_429,
            windows=windows,
        )

    def forget(self, app: str) -> None:
        self._apps.pop(app, None)

    async def close(self) -> None:
        self._apps.clear()
