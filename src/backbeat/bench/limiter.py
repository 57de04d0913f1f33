"""The distributed run of the limiter: several processes, each with NORMAL coroutines taking
slots in a loop from one Redis-backed window (and, in process 0, one HIGH coroutine now and
then), all on one start line. Grant times are Redis TIME, one clock for every process, so the
merged log shows exactly how many grants any rolling window held."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

from backbeat.bench.harness import Link, drop_keys, run_workers, sleep_until, store_offset
from backbeat.bench.stats import max_in_window
from backbeat.ratelimit import Backend, Limiter, Policy, Priority, Rate, RateLimitError, SlotTimeout
from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome
from backbeat.ratelimit.backends.redis import RedisBackend
from backbeat.ratelimit.metrics import AppMetrics

HIGH_EVERY = (0.1, 0.3)  # seconds between two interactive calls
HIGH_MAX_WAIT = 5.0  # the Limiter's default for HIGH


@dataclass(frozen=True, slots=True)
class Scenario:
    redis_url: str
    processes: int = 4
    coroutines: int = 8
    seconds: float = 10.0
    limit: int = 50
    window: float = 2.0
    high: bool = True  # one HIGH coroutine in process 0

    @property
    def budget(self) -> float:
        """Grants the window allows over the run: limit * seconds / window."""
        return self.limit * self.seconds / self.window


@dataclass(frozen=True, slots=True)
class LimiterJob:
    index: int
    scenario: Scenario
    prefix: str
    app: str


@dataclass(slots=True)
class LimiterLoad:
    """What one worker saw; times in seconds."""

    index: int
    grants: list[float] = field(default_factory=list)  # granted_at (Redis TIME), NORMAL + HIGH
    high_waits: list[float] = field(default_factory=list)  # Grant.waited of each HIGH call
    round_trips: list[float] = field(default_factory=list)  # each backend acquire
    high_timeouts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    start: float  # Redis clock; the run is [start, start + seconds]
    grants: list[float]  # every grant of every process, sorted
    loads: list[LimiterLoad]

    @property
    def grants_in_run(self) -> int:
        end = self.start + self.scenario.seconds
        return sum(1 for t in self.grants if self.start <= t <= end)

    @property
    def utilization(self) -> float:
        return self.grants_in_run / self.scenario.budget

    @property
    def max_in_window(self) -> int:
        return max_in_window(self.grants, self.scenario.window)


class TimedBackend:
    """Times every round trip to the store. One backend `acquire` is one script call, the same
    unit as one `hit` of limits or one try_acquire of pyrate; a `Limiter.acquire` spans several
    of them plus the sleeps between, which says nothing about the store's speed."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.round_trips: list[float] = []

    async def acquire(self, request: Acquire) -> Decision:
        began = time.perf_counter()
        try:
            return await self.inner.acquire(request)
        finally:
            self.round_trips.append(time.perf_counter() - began)

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        await self.inner.finish(policy, outcome)

    async def snapshot(self, policy: Policy) -> AppMetrics:
        return await self.inner.snapshot(policy)

    def forget(self, app: str) -> None:
        self.inner.forget(app)

    async def close(self) -> None:
        await self.inner.close()


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Run the scenario on its Redis and remove its keys afterwards."""
    run = uuid.uuid4().hex[:10]
    prefix, app = f"bb:bench:{run}", f"bench:{run}"
    jobs = [LimiterJob(i, scenario, prefix, app) for i in range(scenario.processes)]
    try:
        start, loads = run_workers(
            limiter_worker,
            jobs,
            LimiterLoad,
            redis_url=scenario.redis_url,
            seconds=scenario.seconds,
        )
    finally:
        drop_keys(scenario.redis_url, prefix)
    grants = sorted(t for load in loads for t in load.grants)
    return ScenarioResult(scenario, start, grants, loads)


def limiter_worker(job: LimiterJob, link: Link) -> None:
    link.send(asyncio.run(_work(job, link)))


async def _work(job: LimiterJob, link: Link) -> LimiterLoad:
    scenario = job.scenario
    backend = RedisBackend.from_url(scenario.redis_url, prefix=job.prefix)
    timed = TimedBackend(backend)
    policy = Policy(job.app, classes={"read": (Rate(scenario.limit, scenario.window),)})
    limiter = Limiter(timed, {policy.app: policy})
    load = LimiterLoad(job.index)
    try:
        # Connections and script ready before the clock starts, so the first calls measure no
        # connecting: on another app, so that no slot of the measured one is taken.
        await asyncio.gather(*(backend.client.ping() for _ in range(scenario.coroutines + 1)))
        warm = Policy(f"{job.app}:warm", classes={"read": (Rate(1000, 1.0),)})
        await Limiter(timed, {warm.app: warm}).acquire(warm.app)
        timed.round_trips.clear()
        offset = await store_offset(backend.client)
        start = await link.ready()
        await sleep_until(start, offset)
        end = start + scenario.seconds - offset  # on this machine's clock, as the Limiter's
        work = [_normal(limiter, policy.app, end, load) for _ in range(scenario.coroutines)]
        if scenario.high and job.index == 0:
            work.append(_high(limiter, policy.app, end, load))
        await asyncio.gather(*work)
    finally:
        await limiter.close()
    load.round_trips.extend(timed.round_trips)
    return load


async def _normal(limiter: Limiter, app: str, end: float, load: LimiterLoad) -> None:
    while (remaining := end - time.time()) > 0:
        try:
            # Bounded by the run's end: a waiter that would sleep past it stops instead.
            grant = await limiter.acquire(app, max_wait=remaining)
        except SlotTimeout:
            return
        except RateLimitError as error:
            load.errors.append(repr(error))
            return
        load.grants.append(grant.granted_at)


async def _high(limiter: Limiter, app: str, end: float, load: LimiterLoad) -> None:
    rng = random.Random()
    while True:
        await asyncio.sleep(rng.uniform(*HIGH_EVERY))
        remaining = end - time.time()
        if remaining <= 0:
            return
        try:
            grant = await limiter.acquire(
                app, priority=Priority.HIGH, max_wait=min(HIGH_MAX_WAIT, remaining)
            )
        except SlotTimeout:
            if remaining < HIGH_MAX_WAIT:
                return  # cut short by the run's end, not a real timeout
            load.high_timeouts += 1
            continue
        except RateLimitError as error:
            load.errors.append(repr(error))
            return
        load.grants.append(grant.granted_at)
        load.high_waits.append(grant.waited)
