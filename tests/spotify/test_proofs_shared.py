"""Proofs of the upstream client across processes: several spawn processes, each with its own
`UpstreamStack`, call one real-HTTP simulator (a thread of this process) and share the limiter,
cache, dedup and ID registry through Redis (tests/spotify/workers.py). The simulator's stats are
the ground truth of what reached "Spotify".

The simulator's windows are in simulated seconds divided by `time_scale`; the limiter's are real
seconds, so both are configured here in real seconds. The limiter's network margin (added to
every window) is set to 0 where a proof picks its own margin.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from backbeat.bench.harness import drop_keys, run_workers
from backbeat.bench.stats import max_in_window
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.server import BackgroundServer
from backbeat.upstream.stack import UpstreamStack
from tests.spotify.workers import (
    Call,
    Refusal,
    StackJob,
    StackResult,
    isolate,
    shared_settings,
    stack_worker,
)

APP = "backbeat-dev"  # the simulator counts per client id


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh Redis key prefix for the run, wiped afterwards."""
    run = f"bbtest:proof:{uuid.uuid4().hex[:10]}"
    yield run
    drop_keys(redis_url, run)


def run_stacks(
    redis_url: str,
    server: BackgroundServer,
    prefix: str,
    ratelimit: dict[str, Any],
    calls_per_process: Sequence[Sequence[Call]],
    seconds: float,
) -> list[StackResult]:
    jobs = [
        StackJob(i, redis_url, server.url, prefix, ratelimit, tuple(calls))
        for i, calls in enumerate(calls_per_process)
    ]
    _, results = run_workers(stack_worker, jobs, StackResult, redis_url=redis_url, seconds=seconds)
    return results


def sim_stats(server: BackgroundServer) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{server.url}/_sim/stats").json()["apps"][APP]
    return stats


def mixed_calls(catalog: Catalog, count: int) -> list[Call]:
    """`count` distinct calls (no two share a cache key), cycling through the kinds: searches
    at growing offsets, single tracks, albums, artists, album track pages and several-track
    gets (one in eleven: those take the batch window)."""
    tracks, albums, artists = catalog.track_ids, list(catalog.albums), list(catalog.artists)
    cycle = ["search", "track", "album", "artist", "album_tracks"] * 2 + ["tracks"]
    used: dict[str, int] = dict.fromkeys(cycle, 0)
    calls: list[Call] = []
    for i in range(count):
        kind = cycle[i % len(cycle)]
        n = used[kind]
        used[kind] += 1
        args: tuple[Any, ...]
        if kind == "search":
            args = ("aeiou"[n % 5], 5, 5 * (n // 5))
        elif kind in ("track", "album", "artist"):
            args = ({"track": tracks, "album": albums, "artist": artists}[kind][n],)
        elif kind == "album_tracks":
            args = (albums[-1 - n], 5, 0)
        else:
            args = tuple(tracks[-4 * (n + 1) : len(tracks) - 4 * n])
        calls.append(Call(kind, args))
    assert len({(c.kind, c.args) for c in calls}) == count
    return calls


# -- 1. at or under the simulator's limit: no 429 at all ------------------------------------


def test_a_burst_from_three_processes_within_the_limit_meets_no_429(
    redis_url: str, prefix: str
) -> None:
    """500 distinct mixed calls, all started at once from 3 processes (about 167 concurrent
    each). The simulator allows 150 per rolling 3 s per app (its 15 s at time scale 5). The
    limiter's windows add up to 135 per 3 s (100 read + 35 batch), each widened by a network
    margin of 0.5 s: 135 per 3.5 s at most. A call reaches the simulator some time after its
    grant, and on a busy machine (3 processes of hundreds of coroutines, the simulator's thread
    and Redis on 2 cores) these delays differ by up to several hundred milliseconds, which packs
    more arrivals into a window than there were grants in it; the default margin of 0.25 s is
    made for real 30-s windows, not for time-scaled ones, and at time scale 10 (1.5-s windows)
    a loaded CI machine still drew the odd 429. About 13 s.

    What is measured: the simulator's count of 429s and its busiest rolling window (ground
    truth at the receiving end), every call's outcome, and every grant of the shared limiter
    (Redis clock) per class."""
    sim = SimulatorSettings(artists=120, users=5, limit=150, window=15, time_scale=5)
    ratelimit = {"spotify_read": "100/3", "spotify_batch": "35/3", "margin": 0.5}
    calls = mixed_calls(Catalog(sim.seed, sim.artists), 500)
    with BackgroundServer(create_app(sim)) as server:
        results = run_stacks(
            redis_url, server, prefix, ratelimit, [calls[i::3] for i in range(3)], seconds=60
        )
        stats = sim_stats(server)

    assert [o for r in results for o in r.outcomes] == ["ok"] * 500
    assert stats["http_429"] == 0
    assert stats["max_in_window"] <= 150, stats
    assert all(r.refusals == [] for r in results)
    # The cache answered none of them: every call went upstream once, and nothing else did.
    sent = sum(r.upstream_requests for r in results)
    assert sent == stats["requests"] == stats["successes"] == 500
    # The limiter's own promise, on Redis' clock: per class window of 2 s, its limit less the
    # one slot NORMAL calls leave free for interactive ones.
    for op_class, most in (("read", 99), ("batch", 34)):
        grants = [
            g for r in results for g, c in zip(r.grants, r.classes, strict=True) if c == op_class
        ]
        assert max_in_window(grants, 3.5) <= most, op_class


# -- 2. above the simulator's limit: one pause for all, at most one more 429 per pause ------


@dataclass
class Episode:
    """One pause of the shared limiter: the 429 that began it and the 429s of calls that were
    already on their way when it began."""

    opener: Refusal
    further: list[Refusal] = field(default_factory=list)


def opens_a_pause(refusal: Refusal, refusals: Sequence[Refusal]) -> bool:
    """Whether the limiter surely took `refusal` for the start of a new pause.

    finish.lua starts a pause for a 429 granted after the current pause began (`granted_at >
    paused_at`, both Redis TIME) and otherwise only counts it. `paused_at` is the TIME inside the
    report of an earlier 429, so it lies within that report's [began, ended]. A 429 granted after
    the end of every report that may have run before its own (began before its own ended) was
    granted after `paused_at`, whichever report set it: it surely started a pause. The converse
    does not hold only when a grant falls inside a report's interval of a millisecond or so, and
    then the 429 counts as a further one: a stricter check, never a laxer one."""
    return all(
        refusal.granted_at > other.report_ended
        for other in refusals
        if other is not refusal and other.report_began < refusal.report_ended
    )


def pause_episodes(refusals: Sequence[Refusal]) -> list[Episode]:
    """Each 429 reported to the limiter, in the pause episode it belongs to. A 429 that did not
    open a pause was granted before one began (it was in flight): it belongs to the first pause
    that began, or may have begun, after its grant."""
    openers = sorted(
        (r for r in refusals if opens_a_pause(r, refusals)), key=lambda r: r.report_ended
    )
    episodes = [Episode(opener) for opener in openers]
    for refusal in refusals:
        if refusal in openers:
            continue
        owner = next((e for e in episodes if e.opener.report_ended >= refusal.granted_at), None)
        assert owner is not None, f"a 429 granted after every pause began: {refusal}"
        owner.further.append(refusal)
    return episodes


def test_above_the_simulators_limit_every_process_pauses_after_a_429(
    redis_url: str, prefix: str
) -> None:
    """The limiter allows 20 per rolling 1.25 s (20/1 plus the default network margin), the
    simulator 10 per second (honest Retry-After, in decimals thanks to the time scale): 60
    distinct calls from 3 processes, all at once.

    What is measured: every 429 the simulator sent, as reported to the shared limiter with its
    grant time and the Redis-clock interval of its report (workers.RecordingBackend), split into
    pause episodes exactly as the limiter's finish script decides (`pause_episodes`). Each
    episode holds the 429 that began it plus only 429s of calls granted before it began (in
    flight: on a quiet machine one at most, under load as many as were granted during the
    round trip); no process is granted a slot while a pause runs; every call completes. About
    10 s."""
    sim = SimulatorSettings(artists=60, users=5, limit=10, window=10, time_scale=10)
    # All classes on 1-s windows: the adaptive ceiling recovers after the longest window
    # without a 429, so the run sees several episodes instead of one.
    ratelimit = {"spotify_read": "20/1", "spotify_write": "20/1", "spotify_batch": "20/1"}
    calls = [c for c in mixed_calls(Catalog(sim.seed, sim.artists), 66) if c.kind != "tracks"]
    with BackgroundServer(create_app(sim)) as server:
        results = run_stacks(
            redis_url, server, prefix, ratelimit, [calls[i::3] for i in range(3)], seconds=60
        )
        stats = sim_stats(server)

    assert [o for r in results for o in r.outcomes] == ["ok"] * len(calls)
    refusals = [f for r in results for f in r.refusals]
    assert stats["http_429"] == len(refusals) > 0  # the limit was hit; each 429 was reported
    episodes = pause_episodes(refusals)  # fails on a 429 granted after a pause began
    grants = sorted(g for r in results for g in r.grants)
    for episode in episodes:
        began, retry_after = episode.opener.report_ended, episode.opener.retry_after
        assert retry_after is not None
        assert retry_after > 0
        # The pause ends no sooner than its report began plus the Retry-After.
        ends = episode.opener.report_began + retry_after
        assert not [g for g in grants if began < g < ends], episode
    assert stats["successes"] == len(calls)


# -- 5. identical GETs share one upstream request; the cache answers repeats ---------------


def test_concurrent_identical_gets_from_two_processes_make_one_request(
    redis_url: str, prefix: str
) -> None:
    """50 identical album GETs in each of 2 processes, all on one start line. The simulator
    takes 300 ms to answer, so both processes are surely in flight at once: each merges its 50
    callers into one flight, and one process's flight follows the other's through the Redis
    lock. What is measured: the simulator's count of album requests (1), each process's count
    of requests sent and its dedup counters. Then a GET of the same album from a third stack (a
    fresh process's state) within the TTL: answered by the shared cache, still 1 request."""
    sim = SimulatorSettings(artists=60, users=5, latency_ms=300, latency_sigma=0)
    album = next(iter(Catalog(sim.seed, sim.artists).albums))
    same = [Call("album", (album,))] * 50
    with BackgroundServer(create_app(sim)) as server:
        results = run_stacks(redis_url, server, prefix, {}, [same, same], seconds=30)
        assert [o for r in results for o in r.outcomes] == ["ok"] * 100
        assert sum(r.upstream_requests for r in results) == 1
        assert sim_stats(server)["by_endpoint"]["album"]["requests"] == 1
        dedup = sorted((r.leaders, r.remote_followers, r.local_followers) for r in results)
        assert dedup == [(0, 1, 49), (1, 0, 49)]

        async def again() -> int:
            async with UpstreamStack(shared_settings(redis_url, server.url, {})) as stack:
                isolate(stack, prefix)
                assert (await stack.spotify.album(album)).id == album
                return stack.spotify_upstream.upstream_requests

        assert asyncio.run(again()) == 0
        assert sim_stats(server)["by_endpoint"]["album"]["requests"] == 1
