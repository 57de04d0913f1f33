"""`backbeat bench scan`: the daily scan (organizer scan + listening ingest) of N users against a
fresh simulator, with interactive calls beside it, for backbeat or one of the seeds' designs.

The simulator runs in its own process at a time scale; its app limit is the configured read limit
(80 per 30 s) and users' tastes overlap with Zipf weights, as on a real shared catalog. Every
strategy is judged by the simulator's own record: when each request was admitted, how many were
refused. Figures:

- `lower_bound_s`: admitted upstream calls ÷ the rate (limit per window): no design can finish
  those calls sooner; `makespan_s` is the span from the first admitted call to the last,
  `makespan_ratio` their quotient;
- `utilization`: admitted calls per window ÷ the limit, over the saturated part: windows tiled
  from the first call, from the first to the last that reached 90 % of the limit (ramp-up and
  tail left out, every dip between counted); `utilization_overall` over every window but the
  last, partial one;
- `interactive_*_ms` (real-time equivalent): measured latency, with the part spent waiting on
  time-scaled clocks (limiter waits, retry sleeps, queueing behind them) multiplied back by the
  time scale;
- `host_cpu_busy`: the share of this machine's `host_cpus` cores busy over the makespan
  (`host_load.py`): near 1.0, the machine's CPU, not the upstream budget, set the pace.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from backbeat.bench.host_load import CpuRecorder
from backbeat.config import RateLimitSettings
from backbeat.ratelimit.rate import Rate
from backbeat.simulator.consent import consent
from backbeat.simulator.server import free_port

Strategy = Literal["backbeat", "serial-worker", "per-process", "naive"]
STRATEGIES: tuple[Strategy, ...] = ("backbeat", "serial-worker", "per-process", "naive")
SCOPES = (
    "user-read-private user-library-read user-top-read user-read-recently-played "
    "playlist-read-private playlist-modify-private playlist-modify-public"
)
ZIPF = 1.1
MAX_SECONDS = 900.0
# backbeat's limiter margin in the bench, real seconds. A call's delay on its way is covered by
# holding its slot until its answer is back; the margin is left for the simulator's window edge.
# (Holding slots from the grant alone, 0.05 s on 2 busy cores still drew 429s at x60.)
MARGIN = 0.005
SATURATED = 0.9  # a window this full is part of the saturated stretch utilization is taken over
MIN_STRETCH = 3  # windows the saturated stretch spans at least
# The interactive load beside the scan, the same for every strategy: a search or an album look-up
# every INTERACTIVE_EVERY real seconds, search words drawn from these.
INTERACTIVE_EVERY = 0.25
WORDS = ["love", "night", "amor", "nuit", "liebe", "notte", "dream", "fire"]
LONG_TOKENS = 10**9  # simulated seconds: no token expires during a run (refresh is not measured)


def search_word(rng: random.Random) -> str:
    """A query of the interactive load: a word and a letter, so most searches miss the cache."""
    return rng.choice(WORDS) + rng.choice("abcdefghij")


@dataclass(frozen=True, slots=True)
class ScanSpec:
    users: int
    time_scale: float
    strategy: Strategy
    processes: int
    margin: float = MARGIN  # backbeat's limiter margin, real seconds
    max_seconds: float = MAX_SECONDS  # a strategy still running then is stopped, users failed
    redis_url: str = "redis://127.0.0.1:6379/14"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    client: tuple[str, str] = ("backbeat-scan-bench", "backbeat-scan-bench-secret")

    @property
    def rate(self) -> Rate:
        """The simulator's app limit: the configured read limit, time-scaled."""
        read = Rate.parse(RateLimitSettings().spotify_read)
        return Rate(read.limit, read.period / self.time_scale)


@dataclass(slots=True)
class Interactive:
    """One interactive call: what was measured and what of it waited on scaled clocks."""

    wall_s: float
    scaled_s: float
    ok: bool


@dataclass(slots=True)
class Outcome:
    """What a strategy reports about its own run; the simulator's record is added after."""

    logical_calls: int
    jobs_failed: int
    interactive: list[Interactive] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


class World(Protocol):
    """What a bench's spec tells the simulator: its users, its time scale, backbeat's app."""

    @property
    def users(self) -> int: ...

    @property
    def time_scale(self) -> float: ...

    @property
    def client(self) -> tuple[str, str]: ...


@dataclass(frozen=True, slots=True)
class Simulator:
    url: str
    spec: World

    async def tokens(self, users: list[str]) -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as sim:
            return {user: await consent(sim, user, self.spec.client, SCOPES) for user in users}

    def stats(self, app: str | None = None) -> dict[str, Any]:
        """The simulator's counts for `app` (default: backbeat's Spotify app)."""
        found: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats").json()["apps"]
        return dict(found.get(app or self.spec.client[0], {}))

    def admitted(self) -> list[float]:
        answer = httpx.get(f"{self.url}/_sim/timeline/{self.spec.client[0]}", timeout=60)
        return sorted(answer.json()["admitted_at"])

    def language_truth(self, track_ids: list[str]) -> dict[str, str]:
        """Each track's true language (the simulator's ground truth), for baselines that
        stand in for a language detector."""
        with httpx.Client(base_url=self.url, timeout=30) as sim:
            return {t: sim.get(f"/_sim/tracks/{t}").json()["language"] for t in track_ids}


@contextmanager
def simulator(
    spec: World, log_dir: Path, *, zipf: float = ZIPF, options: tuple[str, ...] = ()
) -> Iterator[Simulator]:
    """A fresh simulator process: the app limit is the read limit, tastes Zipf-shaped; `options`
    are more of `backbeat simulator serve`'s."""
    port = free_port()
    rate = Rate.parse(RateLimitSettings().spotify_read)
    env = {
        **os.environ,
        "BACKBEAT_SIMULATOR__TASTE_ZIPF": str(zipf),
        "BACKBEAT_SIMULATOR__TOKEN_EXPIRY": str(LONG_TOKENS),
    }
    command = [
        *backbeat_command(),
        "simulator",
        "serve",
        f"--port={port}",
        f"--users={max(spec.users, 20)}",
        f"--time-scale={spec.time_scale:g}",
        f"--limit={rate.limit}",
        f"--window={rate.period:g}",
        f"--register-app={spec.client[0]}:{spec.client[1]}",
        *options,
    ]
    with (log_dir / "simulator.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/_sim/health", process)
        yield Simulator(url, spec)
    finally:
        stop(process)


def backbeat_command() -> list[str]:
    """The `backbeat` script of this environment (installed beside its Python)."""
    return [str(Path(sys.executable).parent / "backbeat")]


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_scan(spec: ScanSpec, log_dir: Path) -> dict[str, Any]:
    with simulator(spec, log_dir) as sim:
        with CpuRecorder() as cpu:
            if spec.strategy == "backbeat":
                from backbeat.bench.scan_system import run_backbeat

                outcome = asyncio.run(run_backbeat(spec, sim, log_dir))
            else:
                from backbeat.bench.scan_baselines import run_baseline

                outcome = run_baseline(spec, sim)
        stats, admitted = sim.stats(), sim.admitted()
    busy = cpu.busy_share(admitted[0], admitted[-1]) if admitted else None
    load = {"host_cpus": cpu.cores(), "host_cpu_busy": None if busy is None else round(busy, 3)}
    return report(spec, outcome, stats, admitted) | load


def report(
    spec: ScanSpec, outcome: Outcome, stats: dict[str, Any], admitted: list[float]
) -> dict[str, Any]:
    rate = spec.rate
    window, limit = rate.period, rate.limit
    lower = len(admitted) / limit * window
    makespan = admitted[-1] - admitted[0] if admitted else 0.0
    realtime = sorted(
        (i.wall_s + i.scaled_s * (spec.time_scale - 1)) * 1000 for i in outcome.interactive if i.ok
    )
    return {
        "strategy": spec.strategy,
        "users": spec.users,
        "processes": spec.processes,
        "limit": limit,
        "window_s": round(window, 4),
        "time_scale": spec.time_scale,
        "logical_calls": outcome.logical_calls,
        "upstream_calls": stats.get("requests", 0),
        "http_429": stats.get("http_429", 0),
        "max_in_window": stats.get("max_in_window", 0),
        "utilization": round(utilization(admitted, window, limit), 4),
        "utilization_overall": round(overall_utilization(admitted, window, limit), 4),
        "makespan_s": round(makespan, 2),
        "lower_bound_s": round(lower, 2),
        "makespan_ratio": round(makespan / lower, 3) if lower else None,
        "interactive_p50_ms": round(percentile(realtime, 0.5), 1),
        "interactive_p99_ms": round(percentile(realtime, 0.99), 1),
        "jobs_failed": outcome.jobs_failed,
        "interactive_calls": len(outcome.interactive),
        "interactive_failed": sum(not i.ok for i in outcome.interactive),
        "interactive_measured_p99_ms": round(
            percentile(sorted(i.wall_s * 1000 for i in outcome.interactive if i.ok), 0.99), 1
        ),
        "http_5xx": stats.get("http_5xx", 0),
        "margin_s": spec.margin if spec.strategy == "backbeat" else None,
        "per_window": per_window(admitted, window),
        "interactive_realtime_ms": [round(ms, 1) for ms in realtime],
        **outcome.notes,
    }


def utilization(admitted: list[float], window: float, limit: int) -> float:
    """Mean fill of the saturated part: the windows tiled from the first admission, from the
    first to the last that reached SATURATED of the limit (the ramp-up before and the tail of
    the last users' calls after are left out; every dip between them counts). A run that never
    held the budget for MIN_STRETCH windows (one burst is no saturated part): every window but
    the last, partial one."""
    counts = per_window(admitted, window)[:-1]
    full = [i for i, count in enumerate(counts) if count >= SATURATED * limit]
    if full and full[-1] - full[0] + 1 >= MIN_STRETCH:
        counts = counts[full[0] : full[-1] + 1]
    return statistics.fmean(counts) / limit if counts else 0.0


def overall_utilization(admitted: list[float], window: float, limit: int) -> float:
    """Mean fill of every window but the last, partial one: ramp-up and tail included."""
    counts = per_window(admitted, window)[:-1]
    return statistics.fmean(counts) / limit if counts else 0.0


def per_window(admitted: list[float], window: float) -> list[int]:
    """Admissions in each consecutive window from the first one (the plots' series)."""
    if not admitted:
        return []
    first = admitted[0]
    counts = [0] * (int((admitted[-1] - first) / window) + 1)
    for at in admitted:
        counts[int((at - first) / window)] += 1
    return counts


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
