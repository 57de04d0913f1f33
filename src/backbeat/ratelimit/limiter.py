"""The limiter callers use: take a slot (waiting with jitter, bounded by `max_wait`), then report
what the upstream answered. Backends decide atomically; this side only waits and retries."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from backbeat.ratelimit.backends.base import Acquire, Backend, Outcome, OutcomeKind
from backbeat.ratelimit.clock import TimeSource, WallClock
from backbeat.ratelimit.errors import LimiterUnavailable, SlotTimeout, UnknownApp, UpstreamBanned
from backbeat.ratelimit.metrics import AppMetrics
from backbeat.ratelimit.policy import Policy, Window
from backbeat.ratelimit.rate import OpClass, Priority

# Interactive calls fail fast with a clear error; batch work can afford to queue.
DEFAULT_MAX_WAIT = {Priority.HIGH: 5.0, Priority.NORMAL: 120.0, Priority.LOW: 600.0}
# Extra sleep on top of the exact wait, as a share of it: spreads waiters that would all wake
# at the same expiry, and lets more urgent ones go first.
JITTER = {Priority.HIGH: 0.0, Priority.NORMAL: 0.05, Priority.LOW: 0.15}
STORE_RETRY = 0.25  # pause between attempts to reach an unreachable store


@dataclass(frozen=True, slots=True)
class Grant:
    """A slot taken for one upstream call; pass it back to `Limiter.report`."""

    app: str
    granted_at: float
    waited: float
    lease: str | None
    local: bool = False  # granted by the per-process fallback while the store was unreachable
    # Where its slots are: held until `report` (or the end of `slot`) says the answer is back.
    windows: tuple[Window, ...] = ()
    slot: int | None = None
    cost: int = 1


class Limiter:
    def __init__(
        self,
        backend: Backend,
        policies: Mapping[str, Policy],
        clock: TimeSource | None = None,
        *,
        rng: random.Random | None = None,
        fallback: Backend | None = None,
        expected_processes: int = 1,
    ) -> None:
        """Without `fallback` the limiter fails closed while the shared store is unreachable:
        batch calls wait and retry, interactive ones get `LimiterUnavailable` soon. With one, it
        takes over with each limit divided by `expected_processes`."""
        self.backend = backend
        self.policies = dict(policies)
        self.clock = clock or WallClock()
        self.rng = rng or random.Random()
        self.fallback = fallback
        self._expected_processes = expected_processes
        self._local = {app: p.divided(expected_processes) for app, p in self.policies.items()}
        self._known_runs: dict[str, str] = {}  # app → the store's run id seen last

    @classmethod
    def from_url(
        cls,
        url: str,
        policies: Mapping[str, Policy],
        clock: TimeSource | None = None,
        *,
        per_process_fallback: bool = False,
        expected_processes: int = 1,
    ) -> Limiter:
        """The limiter on the store at `url` (memory:// or redis://…)."""
        from backbeat.ratelimit.backends import open_backend
        from backbeat.ratelimit.backends.memory import MemoryBackend

        clock = clock or WallClock()
        shared = url.partition("://")[0] != "memory"
        fallback = MemoryBackend(clock) if per_process_fallback and shared else None
        return cls(open_backend(url, clock), policies, clock, fallback=fallback,
                   expected_processes=expected_processes)  # fmt: skip

    def register(self, policy: Policy) -> None:
        """Add an app's policy after construction (apps named at run time, e.g. one per user
        for inbound limits). Registering the same app again replaces its policy."""
        self.policies[policy.app] = policy
        self._local[policy.app] = policy.divided(self._expected_processes)

    def forget(self, app: str) -> None:
        """Drop a registered app: its policy, and its state where this process holds it (a
        store's keys expire by themselves). Its next `register` starts it afresh."""
        self.policies.pop(app, None)
        self._local.pop(app, None)
        self._known_runs.pop(app, None)
        self.backend.forget(app)
        if self.fallback is not None:
            self.fallback.forget(app)

    def policy(self, app: str) -> Policy:
        try:
            return self.policies[app]
        except KeyError:
            raise UnknownApp(app) from None

    async def acquire(
        self,
        app: str,
        op_class: OpClass = "read",
        *,
        endpoint: str | None = None,
        priority: Priority = Priority.NORMAL,
        cost: int = 1,
        max_wait: float | None = None,
        held: bool = False,
    ) -> Grant:
        """A slot in every window of `op_class` (and `endpoint`). `held`: you will `report`
        the answer, and until then the slot counts, however long the call is out (unreported,
        until the policy's `lease_ttl`)."""
        policy = self.policy(app)
        windows = policy.windows(op_class, endpoint)
        if not windows:
            raise ValueError(f"{app} has no window for class {op_class!r}")
        if not 1 <= cost <= min(w.rate.limit for w in windows):
            raise ValueError(f"cost {cost} cannot fit the windows of {app} {op_class}")
        budget = DEFAULT_MAX_WAIT[priority] if max_wait is None else max_wait
        waiter = uuid.uuid4().hex
        started = self.clock.time()
        while True:
            known = self._known_runs.get(app)
            request = Acquire(policy, windows, priority, cost, waiter, known, held)
            local = False
            taken = windows
            try:
                decision = await self.backend.acquire(request)
            except (ConnectionError, OSError, TimeoutError) as error:
                if self.fallback is not None:
                    local_policy = self._local[app]
                    taken = local_policy.windows(op_class, endpoint)
                    decision = await self.fallback.acquire(
                        Acquire(local_policy, taken, priority, cost, waiter, None, held)
                    )
                    local = True
                else:
                    waited = self.clock.time() - started
                    if waited + STORE_RETRY > budget:
                        raise LimiterUnavailable(app, error) from error
                    await self.clock.sleep(STORE_RETRY)
                    continue
            else:
                self._known_runs[app] = decision.run_id
            if decision.granted:
                waited = self.clock.time() - started
                return Grant(
                    app, decision.now, waited, decision.lease, local, taken, decision.slot, cost
                )
            if decision.reason == "banned":
                raise UpstreamBanned(app, decision.ban_until or decision.now + decision.wait)
            pause = decision.wait * (1 + self.rng.random() * JITTER[priority])
            if priority != Priority.HIGH:
                pause += self.rng.random() * decision.spread
            waited = self.clock.time() - started
            if waited + pause > budget:
                raise SlotTimeout(app, budget, decision.wait, decision.reason)
            await self.clock.sleep(pause)

    async def report(
        self, grant: Grant, kind: OutcomeKind = "success", retry_after: float | None = None
    ) -> None:
        """What the upstream answered, once it is back: holds the grant's slots until now,
        frees the lease; a 429 pauses, lowers or bans the app."""
        await self._finish(grant, kind, retry_after)

    async def _finish(
        self, grant: Grant, kind: OutcomeKind, retry_after: float | None = None
    ) -> None:
        outcome = Outcome(
            kind, grant.granted_at, retry_after, grant.lease, grant.windows, grant.slot, grant.cost
        )
        if grant.local and self.fallback is not None:
            await self.fallback.finish(self._local[grant.app], outcome)
            return
        try:
            await self.backend.finish(self.policy(grant.app), outcome)
        except (ConnectionError, OSError, TimeoutError):
            # The store is gone: its lease expires by itself, the slots stay at their grant
            # time; a 429 lost here is seen again by the next call that gets one.
            if self.fallback is not None:
                local = replace(outcome, windows=(), slot=None)  # not the fallback's slots
                await self.fallback.finish(self._local[grant.app], local)

    @asynccontextmanager
    async def slot(
        self,
        app: str,
        op_class: OpClass = "read",
        *,
        endpoint: str | None = None,
        priority: Priority = Priority.NORMAL,
        cost: int = 1,
        max_wait: float | None = None,
    ) -> AsyncIterator[Grant]:
        """`async with limiter.slot(...)`: the slots are held and the lease released when the
        block ends, however it ends; report 429s yourself with `report` inside the block."""
        grant = await self.acquire(
            app,
            op_class,
            endpoint=endpoint,
            priority=priority,
            cost=cost,
            max_wait=max_wait,
            held=True,
        )
        try:
            yield grant
        finally:
            await self._finish(grant, "success")

    async def snapshot(self, app: str) -> AppMetrics:
        return await self.backend.snapshot(self.policy(app))

    async def close(self) -> None:
        await self.backend.close()
        if self.fallback is not None:
            await self.fallback.close()
