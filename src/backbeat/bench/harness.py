"""Worker processes on one start line: each connects and warms up, says it is ready, and gets a
common start time on Redis' clock, so every process measures the same interval of the run.

Workers are "spawn" processes (no state forked from the parent, as separate deployments would
be); jobs and results cross as pickled dataclasses through one queue up and one queue down."""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Protocol, TypeVar

import redis
import redis.asyncio as aioredis


class Indexed(Protocol):
    @property
    def index(self) -> int: ...


JobT = TypeVar("JobT")
ResultT = TypeVar("ResultT", bound=Indexed)

LEAD = 0.5  # seconds between "all ready" and the start: time for the start to reach everyone
READY_TIMEOUT = 120.0  # spawning and importing on a busy 2-core machine can take a while
RESULT_GRACE = 60.0  # beyond the run's own length


@dataclass(frozen=True, slots=True)
class Ready:
    index: int


@dataclass(frozen=True, slots=True)
class Failed:
    index: int
    error: str


class Link:
    """A worker's end of the line: report ready, learn the start, send the result."""

    def __init__(self, index: int, up: Queue[object], down: Queue[float]) -> None:
        self.index = index
        self._up = up
        self._down = down

    async def ready(self) -> float:
        """Blocks (off the event loop) until every worker is ready; the start, Redis clock."""
        self._up.put(Ready(self.index))
        return await asyncio.to_thread(self._down.get)

    def send(self, result: object) -> None:
        self._up.put(result)

    def fail(self, error: str) -> None:
        self._up.put(Failed(self.index, error))


async def store_offset(client: aioredis.Redis) -> float:
    """Redis TIME minus this machine's clock, so a worker can sleep until a store time."""
    before = time.time()
    seconds, micros = await client.time()
    return seconds + micros / 1_000_000 - (before + time.time()) / 2


async def sleep_until(store_time: float, offset: float) -> None:
    await asyncio.sleep(max(0.0, store_time - offset - time.time()))


def _entry(target: Callable[[JobT, Link], None], job: JobT, link: Link) -> None:
    try:
        target(job, link)
    except BaseException:
        link.fail(traceback.format_exc())
        raise


def run_workers(
    target: Callable[[JobT, Link], None],
    jobs: Sequence[JobT],
    result_type: type[ResultT],
    *,
    redis_url: str,
    seconds: float,
) -> tuple[float, list[ResultT]]:
    """Run `target(job, link)` in one process per job; returns the common start (Redis clock)
    and every worker's result. A worker that fails or dies fails the whole run."""
    context = multiprocessing.get_context("spawn")
    up: Queue[object] = context.Queue()
    down: Queue[float] = context.Queue()
    processes = [
        context.Process(target=_entry, args=(target, job, Link(i, up, down)), daemon=True)
        for i, job in enumerate(jobs)
    ]
    for process in processes:
        process.start()
    try:
        _collect(up, processes, Ready, READY_TIMEOUT)
        start = store_time(redis_url) + LEAD
        for _ in processes:
            down.put(start)
        return start, _collect(up, processes, result_type, LEAD + seconds + RESULT_GRACE)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()


def _collect(
    up: Queue[object],
    processes: Sequence[multiprocessing.process.BaseProcess],
    kind: type[ResultT],
    timeout: float,
) -> list[ResultT]:
    """One message of `kind` per worker, in worker order."""
    found: dict[int, ResultT] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(processes):
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers sent {len(found)} of {len(processes)} {kind.__name__}")
        try:
            message = up.get(timeout=0.5)
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a worker died (exit codes {dead})") from None
            continue
        if isinstance(message, Failed):
            raise RuntimeError(f"worker {message.index} failed:\n{message.error}")
        if isinstance(message, kind):
            found[message.index] = message
    return [found[i] for i in sorted(found)]


def store_time(url: str) -> float:
    with redis.Redis.from_url(url) as client:
        seconds, micros = client.time()
    return float(seconds + micros / 1_000_000)


def drop_keys(url: str, prefix: str) -> None:
    """Delete every key the run left under `prefix`."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
