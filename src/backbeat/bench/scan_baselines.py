"""The seeds' designs, re-implemented as they describe themselves, running the same daily scan
(backbeat.bench.scan_workload) with interactive calls beside it.

- `serial-worker` (seed 001, the song ranker): every Spotify call goes through one worker, in
  one FIFO queue, interactive ones included (the API enqueues and waits: the "worker proxy"); no
  rate cap; tenacity retries 429, 5xx and timeouts with exponential waits of 2 s, 4 s … up to
  30 s, ignoring Retry-After, five attempts.
- `per-process` (seed 000, the organizer): K processes, each with its own sliding-window limiter
  (READ 80, WRITE 30, BATCH 20 per 30 s) and adaptive backoff multiplier (×1.5 per 429, back
  down 5 % per success), each its own job queue: 30 s stagger between jobs, at most 5 users at
  once, a failed job retried after 2, 4, 8 minutes. The API process has a limiter of its own.
- `naive` (spotipy's defaults): K threads; urllib3-style retries, three at most, on 429 and 5xx,
  sleeping Retry-After when given, else a 0.3 s exponential backoff.

Every period of the seeds (windows, waits, stagger, retry delays) is divided by the time scale,
as the simulator's are. Each interactive call records the part of its latency spent waiting on
those scaled clocks, so the report can give its real-time equivalent."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from backbeat.bench.scan import (
    INTERACTIVE_EVERY,
    Interactive,
    Outcome,
    ScanSpec,
    Simulator,
    search_word,
)
from backbeat.bench.scan_workload import Call, scan_user
from backbeat.config import SimulatorSettings
from backbeat.simulator.catalog import Catalog


class Refused(Exception):
    """An answer a caller could not use: the status and the Retry-After, if any."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


@dataclass(slots=True)
class Counter:
    asked: int = 0
    slept: float = 0.0  # seconds spent sleeping on scaled clocks by this caller
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ask(self) -> None:
        with self.lock:
            self.asked += 1


def send(client: httpx.Client, method: str, path: str, params: Any, body: Any) -> Any:
    answer = client.request(method, path, params=params, json=body)
    if answer.status_code == 429 or answer.status_code >= 500:
        header = answer.headers.get("retry-after")
        raise Refused(answer.status_code, float(header) if header else None)
    answer.raise_for_status()
    return answer.json() if answer.content else None


def op_class(method: str, path: str) -> str:
    if method != "GET":
        return "write"
    return "batch" if path in ("/artists", "/audio-features", "/albums", "/tracks") else "read"


# --- naive ---------------------------------------------------------------------------------


def naive_call(client: httpx.Client, counter: Counter, scale: float) -> Call:
    def call(method: str, path: str, params: Any = None, body: Any = None) -> Any:
        counter.ask()
        for attempt in range(4):
            try:
                return send(client, method, path, params, body)
            except Refused as refused:
                if attempt == 3:
                    raise
                pause = refused.retry_after
                if pause is None:  # urllib3: no backoff before the first retry
                    pause = 0.0 if attempt == 0 else 0.3 * 2**attempt / scale
                counter.slept += pause
                time.sleep(pause)
        raise AssertionError("unreachable")

    return call


# --- per-process ---------------------------------------------------------------------------


SEED_LIMITS = {"read": 80, "write": 30, "batch": 20}  # per 30 s, the organizer's defaults


class SlidingWindowLimiter:
    """The organizer seed's limiter: per class, in this process only, with a multiplier."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.multiplier = 1.0
        self.times: dict[str, deque[float]] = {name: deque() for name in SEED_LIMITS}
        self.lock = threading.Lock()

    def acquire(self, op: str) -> float:
        """Blocks until the class has room under its limit ÷ the multiplier; seconds waited."""
        waited = 0.0
        while True:
            with self.lock:
                now = time.monotonic()
                times = self.times[op]
                while times and times[0] <= now - self.window:
                    times.popleft()
                if len(times) < max(1, int(SEED_LIMITS[op] / self.multiplier)):
                    times.append(now)
                    return waited
                pause = times[0] + self.window - now
            time.sleep(pause)
            waited += pause

    def report_429(self) -> None:
        with self.lock:
            self.multiplier = min(8.0, self.multiplier * 1.5)

    def report_success(self) -> None:
        with self.lock:
            self.multiplier = max(1.0, self.multiplier * 0.95)


def limited_call(
    client: httpx.Client, counter: Counter, limiter: SlidingWindowLimiter, scale: float
) -> Call:
    def call(method: str, path: str, params: Any = None, body: Any = None) -> Any:
        counter.ask()
        for attempt in range(3):
            counter.slept += limiter.acquire(op_class(method, path))
            try:
                answer = send(client, method, path, params, body)
            except Refused as refused:
                if refused.status == 429:
                    limiter.report_429()
                if attempt == 2:
                    raise
                pause = refused.retry_after or limiter.window * limiter.multiplier / 10
                counter.slept += pause
                time.sleep(pause)
                continue
            limiter.report_success()
            return answer
        raise AssertionError("unreachable")

    del scale
    return call


# --- serial worker -------------------------------------------------------------------------


def tenacity_call(client: httpx.Client, counter: Counter, scale: float) -> Call:
    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, Refused | httpx.TimeoutException)),
        wait=wait_exponential(multiplier=1 / scale, min=2 / scale, max=30 / scale),
        stop=stop_after_attempt(5),
        reraise=True,
    )

    def call(method: str, path: str, params: Any = None, body: Any = None) -> Any:
        counter.ask()
        return retrying(send, client, method, path, params, body)

    return call


# --- processes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    strategy: str
    sim_url: str
    users: dict[str, str]  # user → access token
    scale: float
    threads: int
    window: float
    stagger: float
    deadline: float  # time.time() after which no new attempt starts


def language_table() -> Callable[[str], str | None]:
    defaults = SimulatorSettings()  # the bench's simulator runs with the default catalog
    tracks = Catalog(defaults.seed, defaults.artists).tracks
    return lambda track_id: tracks[track_id].language if track_id in tracks else None


def client_for(sim_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{sim_url}/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def run_users(job: Job, results: Any) -> None:
    """A process's share of the scan: `threads` users at once, each with its own client."""
    language_of = language_table()
    counter = Counter()
    limiter = SlidingWindowLimiter(job.window)
    pending: queue.Queue[tuple[str, int]] = queue.Queue()
    for user in job.users:
        pending.put((user, 0))
    failed: list[str] = []
    start = time.time()
    slot = itertools.count()

    def worker() -> None:
        while time.time() < job.deadline:
            try:
                user, tries = pending.get_nowait()
            except queue.Empty:
                return
            if job.stagger:  # the organizer's job queue starts jobs `stagger` apart
                time.sleep(max(0.0, start + next(slot) * job.stagger - time.time()))
            with client_for(job.sim_url, job.users[user]) as client:
                call = (
                    limited_call(client, counter, limiter, job.scale)
                    if job.strategy == "per-process"
                    else naive_call(client, counter, job.scale)
                )
                try:
                    scan_user(call, user, language_of)
                except Exception:
                    delays = (120, 240, 480) if job.strategy == "per-process" else ()
                    if tries < len(delays):
                        time.sleep(delays[tries] / job.scale)
                        pending.put((user, tries + 1))
                    else:
                        failed.append(user)

    threads = [threading.Thread(target=worker) for _ in range(job.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unfinished = pending.qsize()
    results.put((counter.asked, len(failed) + unfinished))


def serial_worker(job: Job, tasks: Any, results: Any) -> None:
    """The song ranker's Spotify worker: one task at a time, first come first served."""
    language_of = language_table()
    counter = Counter()
    clients: dict[str, httpx.Client] = {}
    failed = 0
    while True:
        task = tasks.get()
        if task is None:
            break
        kind, user, payload = task
        client = clients.get(user) or clients.setdefault(
            user, client_for(job.sim_url, job.users[user])
        )
        call = tenacity_call(client, counter, job.scale)
        if kind == "scan":
            try:
                if time.time() < job.deadline:
                    scan_user(call, user, language_of)
                else:
                    failed += 1
            except Exception:
                failed += 1
            results.put(("scanned", user, None))
            continue
        method, path, params, probe = payload
        if time.time() >= job.deadline:  # the run is over: queued probes are not answered
            results.put(("call", probe, False))
            continue
        try:
            results.put(("call", probe, call(method, path, params) is not None))
        except Exception:
            results.put(("call", probe, False))
    results.put(("done", counter.asked, failed))


# --- the run -------------------------------------------------------------------------------


def run_baseline(spec: ScanSpec, sim: Simulator) -> Outcome:
    users = [f"user{n:04d}" for n in range(spec.users)]
    tokens = {u: t["access_token"] for u, t in asyncio.run(sim.tokens(users)).items()}
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    window = spec.rate.period
    deadline = time.time() + spec.max_seconds
    probes = interactive_targets(sim.url, tokens[users[0]])
    if spec.strategy == "serial-worker":
        tasks = context.Queue()
        job = Job(spec.strategy, sim.url, tokens, spec.time_scale, 1, window, 0.0, deadline)
        process = context.Process(target=serial_worker, args=(job, tasks, results))
        process.start()
        for user in users:
            tasks.put(("scan", user, None))
        interactive, done = through_queue(tasks, results, users, probes)
        process.join(timeout=30)
        return Outcome(done[1], done[2], interactive)
    if spec.strategy == "naive":
        shares = [users]
        threads, stagger = spec.processes, 0.0
    else:
        shares = [users[i :: spec.processes] for i in range(spec.processes)]
        threads, stagger = 5, 30 / spec.time_scale
    processes = []
    for share in shares:
        job = Job(
            spec.strategy,
            sim.url,
            {u: tokens[u] for u in share},
            spec.time_scale,
            threads,
            window,
            stagger,
            deadline,
        )
        processes.append(context.Process(target=run_users, args=(job, results)))
    for process in processes:
        process.start()
    stop = threading.Event()
    collected: list[Interactive] = []
    with client_for(sim.url, tokens[users[0]]) as client:
        counter = Counter()
        call = (
            limited_call(client, counter, SlidingWindowLimiter(window), spec.time_scale)
            if spec.strategy == "per-process"
            else naive_call(client, counter, spec.time_scale)
        )
        driver = threading.Thread(target=direct, args=(call, counter, probes, stop, collected))
        driver.start()
        finished = [results.get(timeout=spec.max_seconds + 120) for _ in processes]
        stop.set()
        driver.join()
    for process in processes:
        process.join(timeout=30)
    return Outcome(sum(f[0] for f in finished), sum(f[1] for f in finished), collected)


Probe = tuple[str, str, Mapping[str, Any]]


def interactive_targets(sim_url: str, token: str) -> list[Probe]:
    """Searches and album look-ups, the albums found by one search made before the run."""
    with client_for(sim_url, token) as client:
        found = client.get("/search", params={"q": "a", "type": "album", "limit": 10}).json()
    albums: list[Probe] = [("GET", f"/albums/{a['id']}", {}) for a in found["albums"]["items"]]
    rng = random.Random(7)
    searches = [("GET", "/search", {"q": search_word(rng), "type": "track"}) for _ in range(40)]
    return [p for pair in zip(searches, itertools.cycle(albums), strict=False) for p in pair]


def direct(
    call: Call,
    counter: Counter,
    probes: list[Probe],
    stop: threading.Event,
    collected: list[Interactive],
) -> None:
    """An API process's handler calling Spotify itself, one call every INTERACTIVE_EVERY s."""
    for method, path, params in itertools.cycle(probes):
        if stop.wait(INTERACTIVE_EVERY):
            return
        slept = counter.slept
        began = time.perf_counter()
        try:
            call(method, path, params)
            ok = True
        except Exception:
            ok = False
        collected.append(Interactive(time.perf_counter() - began, counter.slept - slept, ok))


def through_queue(
    tasks: Any, results: Any, users: list[str], probes: list[Probe]
) -> tuple[list[Interactive], tuple[str, int, int]]:
    """The worker proxy: a call is enqueued every INTERACTIVE_EVERY s behind whatever the queue
    holds, and waited for. All of its wait is queueing behind the scans' scaled calls and sleeps,
    so all of it counts as scaled. Returns the calls and the worker's final report."""
    started: dict[int, float] = {}
    collected: list[Interactive] = []
    scanned = 0
    cycle = itertools.cycle(probes)
    next_probe = time.perf_counter()
    while True:
        now = time.perf_counter()
        if scanned < len(users) and now >= next_probe:
            method, path, params = next(cycle)
            started[len(started)] = now
            tasks.put(("probe", users[0], (method, path, params, len(started) - 1)))
            next_probe = now + INTERACTIVE_EVERY
        try:
            message = results.get(timeout=max(0.0, next_probe - time.perf_counter()))
        except queue.Empty:
            continue
        if message[0] == "scanned":
            scanned += 1
            if scanned == len(users):
                tasks.put(None)  # after the probes already queued
        elif message[0] == "call":
            wall = time.perf_counter() - started[message[1]]
            collected.append(Interactive(wall, wall, bool(message[2])))
        else:
            return collected, message
