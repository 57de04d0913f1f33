"""Proofs of the upstream client in one process, against the in-process simulator on a fake
clock shared with the stack (a `VirtualClock` where calls run concurrently): waiting costs no
wall time and durations are exact. Each proof says what it measures. The proofs across
processes (a burst without 429s, the shared pause, dedup between processes) are in
test_proofs_shared.py.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import httpx
import pytest

from backbeat.clock import FakeClock
from backbeat.config import Settings, SimulatorSettings
from backbeat.errors import UpstreamError, UpstreamNotFound
from backbeat.ratelimit import Grant, Priority, RateLimitError, UpstreamBanned
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.catalog import Catalog
from backbeat.upstream.call import Request
from backbeat.upstream.registry import MISSING_TTL
from backbeat.upstream.stack import UpstreamStack
from tests.spotify.stack_fixtures import BASE, simulated_stack, stack_settings
from tests.spotify.workers import isolate
from tests.upstream.conftest import wipe

T = TypeVar("T")
APP = "backbeat-dev"
SIM = SimulatorSettings(artists=60, users=5)
CATALOG = Catalog(SIM.seed, SIM.artists)


async def stats(plain: httpx.AsyncClient) -> dict[str, object]:
    found: dict[str, object] = (await plain.get("/_sim/stats")).json()["apps"].get(APP, {})
    return found


def endpoint_requests(found: dict[str, object], endpoint: str) -> int:
    by_endpoint = found.get("by_endpoint", {})
    assert isinstance(by_endpoint, dict)
    return int(by_endpoint.get(endpoint, {}).get("requests", 0))


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str | None, str]]:
    """Where the shared parts live: this process, or Redis under a fresh prefix wiped after."""
    prefix = f"bbtest:proof:{uuid.uuid4().hex[:10]}"
    if request.param == "memory":
        yield None, prefix
        return
    url: str = request.getfixturevalue("redis_url")
    yield url, prefix
    await wipe(url, prefix)


@asynccontextmanager
async def stack_on(
    store: tuple[str | None, str], simulator: SimulatorSettings, clock: FakeClock
) -> AsyncIterator[tuple[UpstreamStack, httpx.AsyncClient]]:
    url, prefix = store
    settings: Settings = stack_settings().model_copy(update={"redis_url": url})
    async with simulated_stack(simulator, settings, clock) as (stack, plain, _):
        if url is not None:
            isolate(stack, prefix)
        yield stack, plain


class VirtualClock(FakeClock):
    """Virtual time for concurrent tasks. `FakeClock.sleep` moves the clock by each sleeper's
    wait, so concurrent sleepers add up and every task seems to have waited for all of them.
    Here a sleeper waits until the clock reaches its wake-up, and `run` moves the clock only
    when no task can make progress (the loop has nothing ready): to the earliest wake-up.
    Every task's durations are then its own, as on a real clock, with no wall time passing.
    (Work offloaded to a thread would look idle and let time jump early: it can only make
    durations longer, and the simulator's routes are all async.)"""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake_up = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.time() + seconds, next(self._order), wake_up))
        await wake_up

    async def run(self, work: Awaitable[T]) -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.sleep(0)
            if loop._ready or not self._sleepers:  # type: ignore[attr-defined]
                continue  # something can still run (or waits on a thread)
            at, _, wake_up = heapq.heappop(self._sleepers)
            self.advance(max(0.0, at - self.time()))
            if not wake_up.done():
                wake_up.set_result(None)
        return task.result()


# -- 3. unreliable Retry-After and injected 5xx: typed errors, never past max_wait -----------

# (priority, max_wait) in turn; None is the limiter's default for the priority (HIGH: 5 s).
BUDGETS: list[tuple[Priority, float | None]] = [
    (Priority.HIGH, None),
    (Priority.NORMAL, 0.5),
    (Priority.NORMAL, 3.0),
    (Priority.LOW, 10.0),
]


@pytest.mark.parametrize("floor", [0.25, 1.0], ids=["adaptive", "fixed"])
@pytest.mark.parametrize("mode", ["zero", "missing", "early"])
async def test_bad_retry_after_and_5xx_end_in_time_or_in_a_typed_error(
    mode: str, floor: float
) -> None:
    """The simulator allows 10 per second, the limiter is set to 30 (so 429s come), Retry-After
    is 0, missing or half the truth, and 10 % of the admitted calls fail with a 5xx. With the
    adaptive ceiling the limiter soon sends less; with a fixed one (`min_multiplier` 1) it keeps
    running into the simulator's limit and the handling of Retry-After carries the whole load.

    120 distinct GETs in 12 concurrent lanes of 10 calls each, every call with a budget
    (`BUDGETS`). What is measured, on virtual time (every wait of the limiter and the retries
    goes through the clock, and nothing else moves it): each call's duration against its
    max_wait, and how it ended: an answer, or an error of the `UpstreamError` or
    `RateLimitError` family (anything else fails the test)."""
    clock = VirtualClock()
    simulator = SimulatorSettings(
        artists=60, users=5, limit=10, window=1, retry_after_mode=mode, error_rate=0.1
    )
    settings = stack_settings(
        spotify_read="30/1", spotify_write="30/1", spotify_batch="30/1", min_multiplier=floor
    )
    ids = CATALOG.track_ids[:120]
    ended: dict[int, str] = {}

    async def one(i: int) -> None:
        priority, max_wait = BUDGETS[i % len(BUDGETS)]
        budget = max_wait if max_wait is not None else 5.0
        request = Request("track", f"/tracks/{ids[i]}", priority=priority, max_wait=max_wait)
        began = clock.time()
        try:
            await stack.spotify_upstream.call(request)
            ended[i] = "ok"
        except (UpstreamError, RateLimitError) as error:
            ended[i] = type(error).__name__
        took = clock.time() - began
        assert took <= budget + 1e-9, (i, priority, budget, took, ended[i])  # float rounding

    async def lane(first: int) -> None:
        for i in range(first, len(ids), 12):
            await one(i)

    async with simulated_stack(simulator, settings, clock) as (stack, plain, _):
        await clock.run(asyncio.gather(*(lane(k) for k in range(12))))
        found = await stats(plain)

    assert len(ended) == len(ids)
    assert found["http_429"], found  # both faults were met
    assert found["http_5xx"], found


# -- 4. a day ban: interactive calls fail fast --------------------------------------------


async def test_a_day_ban_makes_interactive_calls_fail_at_once(
    store: tuple[str | None, str],
) -> None:
    """A daily quota of 3: the 4th call meets QUOTA_EXCEEDED with a Retry-After of about a day.
    What is measured: the wall time of an interactive (HIGH) call afterwards, which must raise
    `UpstreamBanned` without reaching the simulator, within 100 ms (a fail-fast bound, not a
    benchmark); a batch (NORMAL) call is refused the same way, to be rescheduled."""
    clock = FakeClock()
    simulator = SimulatorSettings(artists=60, users=5, daily_quota=3)
    albums = list(CATALOG.albums)
    async with stack_on(store, simulator, clock) as (stack, plain):
        for album in albums[:3]:
            await stack.spotify.album(album, priority=Priority.HIGH)
        with pytest.raises(UpstreamBanned):
            await stack.spotify.album(albums[3], priority=Priority.HIGH)
        before = await stats(plain)
        assert before["requests"] == 4, before
        assert before["http_429"] == 1, before

        began = time.perf_counter()
        with pytest.raises(UpstreamBanned):
            await stack.spotify.album(albums[4], priority=Priority.HIGH)
        assert time.perf_counter() - began < 0.1
        with pytest.raises(UpstreamBanned):
            await stack.spotify.album(albums[5])

        assert await stats(plain) == before  # neither reached the simulator
        snapshot = await stack.limiter.snapshot(stack.spotify_upstream.app)
        assert snapshot.ban_remaining > 86_000
        assert snapshot.http_429["quota"] == 1


# -- 5. (second half; across processes in test_proofs_shared.py) the cache answers repeats ---


async def test_a_repeated_get_within_its_ttl_is_answered_by_the_cache(
    store: tuple[str | None, str],
) -> None:
    """One album GET, then the same GET 20 times at once and once more: the simulator serves
    it once, the cache (or the first call's flight) answers the rest."""
    clock = FakeClock()
    album = next(iter(CATALOG.albums))
    async with stack_on(store, SIM, clock) as (stack, plain):
        first = await stack.spotify.album(album)
        await asyncio.gather(*(stack.spotify.album(album) for _ in range(20)))
        assert await stack.spotify.album(album) == first
        assert endpoint_requests(await stats(plain), "album") == 1
        assert stack.spotify_upstream.upstream_requests == 1


# -- 6. a missing id is asked upstream once per negative TTL ------------------------------


async def test_a_missing_id_is_asked_once_per_negative_ttl(
    store: tuple[str | None, str],
) -> None:
    """A well-formed Spotify id the catalog lacks. What is measured: the simulator's count of
    track requests while the id is asked many times (at once and one after the other), after
    the fake clock moved to 1 s before the 7-day negative TTL ends, and to 1 s after it."""
    clock = FakeClock()
    missing = "0" * 22
    assert missing not in CATALOG.tracks

    async def ask(times: int) -> None:
        """`times` calls at once, then `times` one after the other: each raises not found."""
        results = await asyncio.gather(
            *(stack.spotify.track(missing) for _ in range(times)), return_exceptions=True
        )
        assert all(isinstance(r, UpstreamNotFound) for r in results), results
        for _ in range(times):
            with pytest.raises(UpstreamNotFound):
                await stack.spotify.track(missing)

    async with stack_on(store, SIM, clock) as (stack, plain):
        await ask(20)
        assert endpoint_requests(await stats(plain), "track") == 1

        clock.advance(MISSING_TTL - 1)
        await ask(5)
        assert endpoint_requests(await stats(plain), "track") == 1

        clock.advance(2)  # 7 days and 1 s after the verdict
        await ask(20)
        assert endpoint_requests(await stats(plain), "track") == 2


# -- 7. calls delayed on their way: slots held until the answer, no 429 -------------------


class DelayedTransport(httpx.ASGITransport):
    """A slow, uneven network on the virtual clock: each request reaches the simulator up to
    `out` seconds after it was sent, its answer comes back up to `back` seconds later."""

    def __init__(self, app: object, clock: VirtualClock, out: float, back: float) -> None:
        super().__init__(app=app)  # type: ignore[arg-type]
        self.clock = clock
        self.out, self.back = out, back
        self.rng = random.Random(11)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.clock.sleep(self.rng.uniform(0, self.out))
        response = await super().handle_async_request(request)
        await self.clock.sleep(self.rng.uniform(0, self.back))
        return response


OUT, CALLS = 28.0, 160  # seconds a request may take to arrive; searches


async def _delayed_searches(held: bool) -> dict[str, object]:
    """160 distinct searches in 16 lanes against a simulator allowing 10 per 30 s, the limiter
    told exactly that with no margin; requests take 0–28 s to arrive and answers 0–2 s to come
    back (a window is 30 s). `held=False` is the limiter as it was: a slot counted from its
    grant for one window, whenever the call arrived. The simulator's own record is returned."""
    clock = VirtualClock()
    simulator = SimulatorSettings(artists=60, users=5, limit=10, window=30)
    settings = stack_settings(
        spotify_read="10/30", spotify_write="10/30", spotify_batch="10/30", margin=0
    )
    app = create_simulator(simulator, clock)
    transport = DelayedTransport(app, clock, out=OUT, back=2.0)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as plain,
        UpstreamStack(settings, clock, transport=transport) as stack,
    ):
        if not held:
            limiter = stack.limiter
            acquire, report = limiter.acquire, limiter.report

            async def from_grant(*args: Any, **options: Any) -> Grant:
                return await acquire(*args, **(options | {"held": False}))

            async def unmoved(grant: Grant, *args: Any) -> None:
                await report(replace(grant, windows=(), slot=None), *args)

            limiter.acquire, limiter.report = from_grant, unmoved  # type: ignore[method-assign]

        async def lane(first: int) -> None:
            for i in range(first, CALLS, 16):
                await stack.spotify.search(f"delayed {i}", limit=1, max_wait=3600)

        await clock.run(asyncio.gather(*(lane(k) for k in range(16))))
        return await stats(plain)


async def test_calls_delayed_on_their_way_draw_no_429() -> None:
    found = await _delayed_searches(held=True)
    assert (found["http_429"], found["requests"]) == (0, CALLS), found
    assert isinstance(found["max_in_window"], int)
    assert found["max_in_window"] <= 10, found
    # The same calls with slots counted from their grants: a call that arrives late lands in a
    # later upstream window than the limiter counted it in, and that window overflows.
    assert (await _delayed_searches(held=False))["http_429"], "the delays never mattered"
