"""The limiter's contract, the same on every backend (memory and Redis), on a fake clock."""

from __future__ import annotations

import random

import pytest

from backbeat.clock import FakeClock
from backbeat.ratelimit import Backend, Limiter, Policy, Priority, Rate, SlotTimeout, UpstreamBanned
from backbeat.ratelimit.backends.base import Acquire, Outcome

APP = "spotify:test"


def policy(**options: object) -> Policy:
    # Unpaced unless a test is about pacing: the exact log is easier to see in bursts.
    settings: dict[str, object] = {"app": APP, "classes": {"read": (Rate(10, 30),)}, "pace": False}
    settings.update(options)
    return Policy(**settings)  # type: ignore[arg-type]


def limiter(backend: Backend, clock: FakeClock, rules: Policy) -> Limiter:
    return Limiter(backend, {rules.app: rules}, clock, rng=random.Random(1))


async def _try(backend: Backend, rules: Policy, priority: Priority = Priority.NORMAL,
               endpoint: str | None = None, cost: int = 1, waiter: str = "w"):  # type: ignore[no-untyped-def]  # fmt: skip
    request = Acquire(rules, rules.windows("read", endpoint), priority, cost, waiter, None)
    return await backend.acquire(request)


async def test_grants_up_to_the_limit_then_an_exact_wait(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(reserve_share=0.0)
    granted = []
    for _ in range(10):
        granted.append((await _try(backend, rules)).granted)
        clock.advance(1)
    assert all(granted)
    refused = await _try(backend, rules)
    assert not refused.granted
    assert refused.reason == "window"
    assert refused.wait == pytest.approx(20.0)  # the first grant (t=0) leaves at t=30; now t=10
    clock.advance(20)
    assert (await _try(backend, rules)).granted


async def test_every_window_of_one_acquire_is_checked_and_recorded(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(endpoints={"search": (Rate.min_interval(2.0),)}, reserve_share=0.0)
    assert (await _try(backend, rules, endpoint="search")).granted
    blocked = await _try(backend, rules, endpoint="search")
    assert not blocked.granted
    assert blocked.wait == pytest.approx(2.0)
    assert (await _try(backend, rules)).granted  # other endpoints only see the class window
    clock.advance(2.0)
    assert (await _try(backend, rules, endpoint="search")).granted
    metrics = await backend.snapshot(rules)
    used = {w.key: w.used for w in metrics.windows}
    assert used == {"c:read:0": 3, "e:search:0": 1}  # the refused attempt recorded nothing


async def test_costs_take_several_slots(backend: Backend, clock: FakeClock) -> None:
    rules = policy(reserve_share=0.0)
    assert (await _try(backend, rules, cost=7)).granted
    refused = await _try(backend, rules, cost=4)
    assert not refused.granted
    assert (await _try(backend, rules, cost=3)).granted


async def test_normal_leaves_a_reserve_that_high_takes(backend: Backend, clock: FakeClock) -> None:
    rules = policy(classes={"read": (Rate(20, 30),)})  # reserve: 1 … 5 slots
    normal = [(await _try(backend, rules)).granted for _ in range(20)]
    assert normal.count(True) == 19  # one slot stays for interactive calls
    assert (await _try(backend, rules, Priority.HIGH)).granted
    # Waiting HIGH calls raise the reserve (one more each, up to 25 %).
    for waiter in ("h1", "h2", "h3"):
        assert not (await _try(backend, rules, Priority.HIGH, waiter=waiter)).granted
    assert (await backend.snapshot(rules)).windows[0].reserve == 4
    clock.advance(30)
    normal = [(await _try(backend, rules)).granted for _ in range(20)]
    assert normal.count(True) == 16
    for waiter in ("h1", "h2", "h3", "h4"):
        assert (await _try(backend, rules, Priority.HIGH, waiter=waiter)).granted
    assert not (await _try(backend, rules, Priority.HIGH)).granted


async def test_normal_grants_are_paced_high_ones_are_not(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(10, 30),)}, pace=True, reserve_share=0.0)
    # One NORMAL slot per 3 s; after an idle spell a short burst (the schedule may run one
    # spacing behind now, and a slot is given one spacing early).
    assert [(await _try(backend, rules)).granted for _ in range(4)] == [True, True, True, False]
    paced = await _try(backend, rules)
    assert paced.wait == pytest.approx(3.0)
    assert (await _try(backend, rules, Priority.HIGH)).granted
    clock.advance(3.0)
    assert (await _try(backend, rules)).granted
    assert not (await _try(backend, rules)).granted
    clock.advance(3.2)  # late by 0.2 s: the schedule does not drift
    assert (await _try(backend, rules)).granted
    assert (await _try(backend, rules)).wait == pytest.approx(2.8)


async def test_a_rate_429_pauses_everyone_halves_the_ceiling_and_recovers(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(reserve_share=0.0)
    first = await _try(backend, rules)
    second = await _try(backend, rules)
    await backend.finish(rules, Outcome("rate_limited", first.now, retry_after=5))
    paused = await _try(backend, rules)
    assert (paused.granted, paused.reason) == (False, "paused")
    assert paused.wait == pytest.approx(5)
    clock.advance(1)
    # A 429 for a call sent before the pause began is the same episode: no longer pause.
    await backend.finish(rules, Outcome("rate_limited", second.now, retry_after=50))
    assert (await _try(backend, rules)).wait == pytest.approx(4)

    metrics = await backend.snapshot(rules)
    assert metrics.multiplier == pytest.approx(0.5)
    assert metrics.windows[0].effective_limit == 5
    assert metrics.http_429 == {"rate": 2, "quota": 0, "ban": 0}
    clock.advance(30)  # a full window without a 429 gives one step back
    assert (await _try(backend, rules)).granted
    assert (await backend.snapshot(rules)).multiplier == pytest.approx(0.6)


async def test_missing_retry_after_pauses_with_a_capped_exponential_default(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(default_pause=1.0, max_default_pause=4.0, min_multiplier=0.1)
    pauses = []
    for _ in range(4):
        clock.advance(0.001)
        grant_time = clock.time()
        await backend.finish(rules, Outcome("rate_limited", grant_time, retry_after=None))
        pauses.append(round((await _try(backend, rules)).wait, 2))
        clock.advance(pauses[-1])
    assert pauses == [1.0, 2.0, 4.0, 4.0]
    assert (await backend.snapshot(rules)).multiplier == pytest.approx(0.1)  # floor


async def test_quota_or_long_retry_after_is_a_ban(backend: Backend, clock: FakeClock) -> None:
    rules = policy(ban_threshold=60)
    granted = await _try(backend, rules)
    await backend.finish(rules, Outcome("quota", granted.now, retry_after=80_000))
    banned = await _try(backend, rules, Priority.HIGH)
    assert (banned.granted, banned.reason) == (False, "banned")
    assert banned.ban_until == pytest.approx(clock.time() + 80_000)
    clock.advance(80_001)
    granted = await _try(backend, rules)
    assert granted.granted
    await backend.finish(rules, Outcome("rate_limited", granted.now, retry_after=3600))
    assert (await _try(backend, rules)).reason == "banned"
    metrics = await backend.snapshot(rules)
    assert metrics.http_429 == {"rate": 0, "quota": 1, "ban": 1}
    assert metrics.ban_remaining == pytest.approx(3600)


async def test_concurrency_leases_cap_in_flight_calls_and_expire(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(concurrency=2, lease_ttl=10)
    a, b = await _try(backend, rules), await _try(backend, rules)
    assert a.lease
    assert b.lease
    assert a.lease != b.lease
    third = await _try(backend, rules)
    assert (third.granted, third.reason) == (False, "concurrency")
    assert 0 < third.wait <= 0.05
    await backend.finish(rules, Outcome("success", a.now, lease=a.lease))
    assert (await _try(backend, rules)).granted
    assert (await backend.snapshot(rules)).in_flight == 2
    clock.advance(10.5)  # the holders died: their leases expire
    assert (await _try(backend, rules)).granted


async def test_a_call_holds_its_slot_until_its_answer_is_back(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(2, 10),)}, reserve_share=0.0)
    windows = rules.windows("read", None)
    first, second = await _try(backend, rules), await _try(backend, rules)
    assert (first.slot, second.slot) == (1, 2)
    clock.advance(3)  # the first call's answer is back: the upstream counted it by now
    await backend.finish(rules, Outcome("success", first.now, windows=windows, slot=first.slot))
    clock.advance(7.5)  # t=10.5: the second slot left at t=10, the first one stays until t=13
    assert (await _try(backend, rules)).granted
    refused = await _try(backend, rules)
    assert not refused.granted
    assert refused.wait == pytest.approx(2.5)


async def test_a_held_call_out_longer_than_the_window_keeps_its_slot(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(2, 10),)}, reserve_share=0.0)
    windows = rules.windows("read", None)
    slow = await backend.acquire(Acquire(rules, windows, Priority.NORMAL, 1, "s", None, True))
    clock.advance(11)  # its grant has left the window while the call is still out
    assert (await _try(backend, rules)).granted
    refused = await _try(backend, rules)
    assert not refused.granted  # the call out still counts; it stays a period after its answer
    assert refused.wait == pytest.approx(10)
    await backend.finish(rules, Outcome("success", slow.now, windows=windows, slot=slow.slot))
    assert [w.used for w in (await backend.snapshot(rules)).windows] == [2]
    clock.advance(9)  # t=20: the other slot leaves at 21, the answered one at 21
    assert not (await _try(backend, rules)).granted
    clock.advance(1)
    assert (await _try(backend, rules)).granted


async def test_a_held_call_never_answered_counts_until_its_lease_time(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(1, 10),)}, reserve_share=0.0, lease_ttl=25)
    windows = rules.windows("read", None)
    assert (
        await backend.acquire(Acquire(rules, windows, Priority.NORMAL, 1, "s", None, True))
    ).granted
    clock.advance(24)  # its process died: no answer will come
    assert not (await _try(backend, rules)).granted
    clock.advance(1)
    assert (await _try(backend, rules)).granted


async def test_an_unheld_call_left_unreported_counts_for_its_window_only(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(1, 10),)}, reserve_share=0.0)
    assert (await _try(backend, rules)).granted
    clock.advance(10)
    assert (await _try(backend, rules)).granted


async def test_waiters_are_counted_by_priority(backend: Backend, clock: FakeClock) -> None:
    rules = policy(classes={"read": (Rate(1, 30),)})
    assert (await _try(backend, rules, Priority.HIGH, waiter="h0")).granted
    for waiter, priority in (("n1", Priority.NORMAL), ("l1", Priority.LOW), ("h1", Priority.HIGH)):
        assert not (await _try(backend, rules, priority, waiter=waiter)).granted
    assert not (await _try(backend, rules, Priority.NORMAL, waiter="n1")).granted  # same waiter
    metrics = await backend.snapshot(rules)
    assert metrics.waiters == {"HIGH": 1, "NORMAL": 1, "LOW": 1}
    clock.advance(40)
    assert (await backend.snapshot(rules)).waiters == {"HIGH": 0, "NORMAL": 0, "LOW": 0}


async def test_limiter_waits_with_the_backend_and_honours_max_wait(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(reserve_share=0.0)
    front = limiter(backend, clock, rules)
    start = clock.time()
    for _ in range(10):
        assert (await front.acquire(APP)).waited == 0
    with pytest.raises(SlotTimeout) as timeout:
        await front.acquire(APP, priority=Priority.HIGH, max_wait=1)
    assert timeout.value.retry_after == pytest.approx(30)
    grant = await front.acquire(APP, max_wait=60)
    assert 30 <= grant.waited <= 34  # slept (fake) until the window moved, plus jitter
    assert clock.time() - start == pytest.approx(grant.waited)


async def test_limiter_raises_upstream_banned_with_the_retry_time(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy()
    front = limiter(backend, clock, rules)
    grant = await front.acquire(APP)
    await front.report(grant, "rate_limited", retry_after=7200)
    with pytest.raises(UpstreamBanned) as banned:
        await front.acquire(APP, priority=Priority.HIGH)
    assert banned.value.retry_at == pytest.approx(clock.time() + 7200)


async def test_slot_releases_its_lease(backend: Backend, clock: FakeClock) -> None:
    rules = policy(concurrency=1)
    front = limiter(backend, clock, rules)
    async with front.slot(APP) as grant:
        assert grant.lease is not None
        assert (await front.snapshot(APP)).in_flight == 1
    assert (await front.snapshot(APP)).in_flight == 0


async def test_the_limiter_holds_slots_until_the_report(backend: Backend, clock: FakeClock) -> None:
    rules = policy(classes={"read": (Rate(1, 10),)}, reserve_share=0.0)
    front = limiter(backend, clock, rules)
    grant = await front.acquire(APP)
    clock.advance(4)
    await front.report(grant)
    clock.advance(7)  # t=11: the slot was granted at 0 but its answer came back at 4
    with pytest.raises(SlotTimeout) as timeout:
        await front.acquire(APP, max_wait=1)
    assert timeout.value.retry_after == pytest.approx(3)
    async with front.slot(APP, max_wait=5):
        clock.advance(2)
    clock.advance(9)  # 10 s after the grant, but the block ended 2 s after it
    with pytest.raises(SlotTimeout):
        await front.acquire(APP, max_wait=1)


async def test_the_default_pause_starts_over_after_a_quiet_window(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(min_multiplier=1.0, default_pause=1.0, max_default_pause=8.0)

    async def pause_after_a_429() -> float:
        granted = await _try(backend, rules)
        assert granted.granted
        await backend.finish(rules, Outcome("rate_limited", granted.now, retry_after=None))
        wait = (await _try(backend, rules)).wait
        clock.advance(wait)
        return round(wait, 3)

    assert [await pause_after_a_429() for _ in range(3)] == [1.0, 2.0, 4.0]
    clock.advance(30)  # a full window without a 429 (the ceiling itself never moved)
    assert await pause_after_a_429() == 1.0


async def test_spread_counts_only_the_waiters_of_the_same_window(
    backend: Backend, clock: FakeClock
) -> None:
    rules = policy(classes={"read": (Rate(1, 30),), "batch": (Rate(1, 30),)})
    for op_class in ("read", "batch"):
        request = Acquire(rules, rules.windows(op_class), Priority.NORMAL, 1, "first", None)
        assert (await backend.acquire(request)).granted
    for n in range(9):  # nine read waiters
        await backend.acquire(
            Acquire(rules, rules.windows("read"), Priority.NORMAL, 1, f"r{n}", None)
        )
    batch = await backend.acquire(
        Acquire(rules, rules.windows("batch"), Priority.NORMAL, 1, "b", None)
    )
    assert not batch.granted
    assert batch.spread == 0.0  # nobody else waits on the batch window
    read = await backend.acquire(
        Acquire(rules, rules.windows("read"), Priority.NORMAL, 1, "r9", None)
    )
    assert read.spread == pytest.approx(30.0 * 9 / 3)  # spacing × rivals / attempts per slot
