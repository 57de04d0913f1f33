"""Worker processes of the multi-process proofs (tests/spotify/test_proofs_shared.py).

Each worker is a "spawn" process (nothing inherited, as separate deployments would be) with its
own `UpstreamStack` on the real-HTTP simulator of the test process; the limiter, cache, dedup and
ID registry are shared through Redis under the run's key prefix. Workers start their calls on one
start line (`backbeat.bench.harness`) and send back what they saw, including every decision of
the shared limiter: grant times on Redis' clock and, for each 429 reported to it, Redis' clock
just before and just after the report (the pause begins inside that interval).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from backbeat.bench.harness import Link, sleep_until, store_offset
from backbeat.config import RateLimitSettings, ReccoBeatsSettings, Settings, SpotifySettings
from backbeat.errors import UpstreamError
from backbeat.ratelimit import Backend, Policy, RateLimitError
from backbeat.ratelimit.backends.base import Acquire, Decision, Outcome
from backbeat.ratelimit.backends.redis import RedisBackend
from backbeat.ratelimit.metrics import AppMetrics
from backbeat.spotify.client import SpotifyClient
from backbeat.upstream.stack import UpstreamStack


@dataclass(frozen=True, slots=True)
class Call:
    """One typed client call: `kind` names a `SpotifyClient` method, `args` its arguments."""

    kind: str  # search | track | album | artist | album_tracks | tracks
    args: tuple[Any, ...]


CALLS: Mapping[str, Callable[[SpotifyClient, tuple[Any, ...]], Awaitable[object]]] = {
    "search": lambda c, a: c.search(a[0], limit=a[1], offset=a[2]),
    "track": lambda c, a: c.track(a[0]),
    "album": lambda c, a: c.album(a[0]),
    "artist": lambda c, a: c.artist(a[0]),
    "album_tracks": lambda c, a: c.album_tracks(a[0], limit=a[1], offset=a[2]),
    "tracks": lambda c, a: c.tracks(list(a)),
}


@dataclass(frozen=True, slots=True)
class StackJob:
    index: int
    redis_url: str
    sim_url: str
    prefix: str  # every Redis key of the run starts with it
    ratelimit: Mapping[str, Any]  # RateLimitSettings fields
    calls: tuple[Call, ...]  # all started at once on the start line


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 429 reported to the shared limiter; times on Redis' clock."""

    granted_at: float  # when the limiter granted the refused call
    report_began: float  # Redis TIME just before the report ...
    report_ended: float  # ... and just after it: the pause (if any) began in between
    retry_after: float | None


@dataclass(slots=True)
class StackResult:
    index: int
    outcomes: list[str] = field(default_factory=list)  # "ok" or the error's class name, per call
    seconds: list[float] = field(default_factory=list)  # each call's duration
    grants: list[float] = field(default_factory=list)  # every grant, Redis clock
    refusals: list[Refusal] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # the op class of each grant
    upstream_requests: int = 0  # sent by this process
    # Dedup here: flights this process led, callers that joined one of them, flights another
    # process's leader answered.
    leaders: int = 0
    local_followers: int = 0
    remote_followers: int = 0


async def redis_time(client: aioredis.Redis) -> float:
    seconds, micros = await client.time()
    return float(seconds + micros / 1_000_000)


class RecordingBackend:
    """The limiter's shared backend, recording its grants and the 429s reported to it."""

    def __init__(self, inner: Backend, clock_of: aioredis.Redis) -> None:
        self.inner = inner
        self.clock_of = clock_of
        self.grants: list[float] = []
        self.classes: list[str] = []  # the op class of each grant
        self.refusals: list[Refusal] = []

    async def acquire(self, request: Acquire) -> Decision:
        decision = await self.inner.acquire(request)
        if decision.granted:
            self.grants.append(decision.now)
            self.classes.append(request.windows[0].key.split(":")[1])  # c:<class>:<n>
        return decision

    async def finish(self, policy: Policy, outcome: Outcome) -> None:
        if outcome.kind != "rate_limited":
            await self.inner.finish(policy, outcome)
            return
        before = await redis_time(self.clock_of)
        await self.inner.finish(policy, outcome)
        after = await redis_time(self.clock_of)
        self.refusals.append(Refusal(outcome.granted_at, before, after, outcome.retry_after))

    async def snapshot(self, policy: Policy) -> AppMetrics:
        return await self.inner.snapshot(policy)

    def forget(self, app: str) -> None:
        self.inner.forget(app)

    async def close(self) -> None:
        await self.inner.close()


def shared_settings(redis_url: str, sim_url: str, ratelimit: Mapping[str, Any]) -> Settings:
    """A process's settings: the simulator over HTTP, shared state in Redis."""
    return Settings(
        redis_url=redis_url,
        spotify=SpotifySettings(api_url=f"{sim_url}/v1", accounts_url=sim_url),
        reccobeats=ReccoBeatsSettings(url=f"{sim_url}/reccobeats"),
        ratelimit=RateLimitSettings.model_validate(ratelimit),
    )


def isolate(stack: UpstreamStack, prefix: str) -> None:
    """Move every Redis key of the stack under `prefix` (the stack's own prefixes are fixed
    `bb:*`): concurrent runs never share a window, a cached answer or a lock, and the test
    deletes `prefix*` afterwards."""
    backend = stack.limiter.backend
    assert isinstance(backend, RedisBackend), backend
    backend.prefix = f"{prefix}:rl"
    stack.cache.prefix = f"{prefix}:c"
    stack.registry.prefix = f"{prefix}:id"
    stack.dedup.prefix = f"{prefix}:dd"


async def timed(client: SpotifyClient, call: Call) -> tuple[str, float]:
    """Runs one call: ("ok" or the typed error's class name, seconds). Any other error fails
    the worker and so the test."""
    began = time.monotonic()
    try:
        await CALLS[call.kind](client, call.args)
        outcome = "ok"
    except (UpstreamError, RateLimitError) as error:
        outcome = type(error).__name__
    return outcome, time.monotonic() - began


async def _run(job: StackJob, link: Link) -> StackResult:
    async with UpstreamStack(shared_settings(job.redis_url, job.sim_url, job.ratelimit)) as stack:
        assert stack.redis is not None
        isolate(stack, job.prefix)
        recorder = RecordingBackend(stack.limiter.backend, stack.redis)
        stack.limiter.backend = recorder
        await stack.tokens.token(None)  # warm up: the app token and a pooled connection
        offset = await store_offset(stack.redis)
        await sleep_until(await link.ready(), offset)
        done = await asyncio.gather(*(timed(stack.spotify, call) for call in job.calls))
        return StackResult(
            index=job.index,
            outcomes=[outcome for outcome, _ in done],
            seconds=[seconds for _, seconds in done],
            grants=recorder.grants,
            refusals=recorder.refusals,
            classes=recorder.classes,
            upstream_requests=stack.spotify_upstream.upstream_requests,
            leaders=stack.dedup.leaders,
            local_followers=stack.dedup.local_followers,
            remote_followers=stack.dedup.remote_followers,
        )


def stack_worker(job: StackJob, link: Link) -> None:
    link.send(asyncio.run(_run(job, link)))
