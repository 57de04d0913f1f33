"""The user-processing limit: at most N users at once, starts spaced by the inter-user delay."""

from __future__ import annotations

import asyncio

from backbeat.clock import FakeClock
from backbeat.jobs import UserLimiter


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_max_users_and_the_delay_between_their_starts(clock: FakeClock) -> None:
    limiter = UserLimiter(max_users=2, inter_user_delay=5.0, clock=clock)
    t0 = clock.monotonic()
    starts: dict[str, float] = {}
    done = {user: asyncio.Event() for user in "abc"}

    async def process(user: str) -> None:
        async with limiter.slot(user):
            starts[user] = clock.monotonic() - t0
            await done[user].wait()

    tasks = [asyncio.create_task(process(user)) for user in "abc"]
    await settle()
    assert starts == {"a": 0.0, "b": 5.0}  # b waited the delay; c waits for a slot
    assert limiter.active_users == 2
    done["a"].set()
    await settle()
    assert starts["c"] == 10.0  # a free slot, then the delay after b's start
    done["b"].set()
    done["c"].set()
    await asyncio.gather(*tasks)
    assert limiter.active_users == 0


async def test_jobs_of_a_user_in_progress_share_its_slot(clock: FakeClock) -> None:
    limiter = UserLimiter(max_users=1, inter_user_delay=5.0, clock=clock)
    t0 = clock.monotonic()
    starts: list[tuple[str, float]] = []
    release = asyncio.Event()

    async def process(user: str) -> None:
        async with limiter.slot(user):
            starts.append((user, clock.monotonic() - t0))
            await release.wait()

    tasks = [asyncio.create_task(process(user)) for user in ("a", "a", "b")]
    await settle()
    assert starts == [("a", 0.0), ("a", 0.0)]
    assert limiter.active_users == 1
    release.set()
    await asyncio.gather(*tasks)
    assert starts[-1] == ("b", 5.0)


async def test_a_cancelled_waiter_gives_its_place_back(clock: FakeClock) -> None:
    limiter = UserLimiter(max_users=1, inter_user_delay=0.0, clock=clock)
    hold = asyncio.Event()

    async def process(user: str) -> None:
        async with limiter.slot(user):
            await hold.wait()

    first = asyncio.create_task(process("a"))
    waiting = asyncio.create_task(process("b"))
    await settle()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    hold.set()
    await first
    assert limiter.active_users == 0
    async with limiter.slot("c"):
        assert limiter.active_users == 1
