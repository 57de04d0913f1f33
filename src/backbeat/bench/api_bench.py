"""`backbeat bench api`: HTTP load on the API from a separate load-generator process, on
loopback, against four endpoints of one server process in one run.

Endpoints, each warmed up with the same load, then measured in `rounds` slices that take turns
(round r starts at the r-th endpoint), so that a change in the machine's other load falls on all
of them alike:

- `bare`: `GET /bench/ping`, a route the bench adds to the app (`{"ok": true}`, no
  dependencies). The ceiling of the HTTP stack: uvicorn, FastAPI routing and serialization and
  backbeat's middleware, nothing else.
- `auth`: `GET /bench/whoami`, also added by the bench: the `Caller` dependency every `/api`
  route has (signature check and one `app_sessions` query), and nothing else.
- `cached`: `GET /api/search?q=a&type=artist`, the same query every time: after the warm-up the
  answer comes from backbeat's upstream cache and the simulator sees no call (`upstream_calls`
  says so).
- `miss`: `GET /api/search` with a distinct query per request, `a tag:<unique>`: a new cache key
  each time, so every request goes to the simulator (limiter, HTTP/2 call, validation, cache
  write). `tag:` narrows nothing in the simulator, so each answer holds the same artists as the
  cached one: the two differ only by the upstream round trip.

Processes:

- The API: `create_app(settings)` served by uvicorn in a thread of the bench's own process
  (`BackgroundServer`, one worker, as the demo and the tests serve it). A thread because the
  bench mounts its `/bench` routes on the very app object `create_app` returns, and because while
  the load runs the bench's main thread only blocks on the load generator's result (the GIL
  released), so the server thread has the process to itself: for CPU it is a process of its own.
  Its CPU is read from `/proc` for the whole process. Job consumers are off (`api.consumers`):
  these endpoints enqueue nothing, and idle consumers polling SQLite would only add noise.
- The simulator: its own "spawn" process. In the API's process its work for the `miss` phase
  would run under the API's GIL, which a real upstream's would not.
- The load generator: one "spawn" process, one `httpx.AsyncClient` keeping `concurrency`
  requests in flight over at most `concurrency` keep-alive connections (HTTP/1.1), for `seconds`
  per endpoint. It also reads the simulator's stats and every process's CPU time around each
  slice, so all figures of an endpoint cover the same intervals.

Users log in as in the demo: each simulated user consents, backbeat stores their tokens and
issues an API session token (`Sessions.issue(user, "api")`); the load generator sends them as
bearer tokens, spread over its connections. Database: SQLite in a temporary directory (embedded
defaults, in-memory limiter and cache). The simulator's limit and backbeat's Spotify budget are
both set to `UPSTREAM_LIMIT` per 30 s, far above what two cores can ask, so the limiter is not
what is measured; each phase reports the simulator's 429s and the limiter's waits (the API's
`Server-Timing: limiter` header) to show it.

On a machine with few cores the load generator competes with the server for CPU; `client_cpu`
and `server_cpu` (CPU seconds per wall second, per process) tell which one was saturated, and
`server_cpu_ms_per_request` (the API process's CPU per request) is the figure that depends least
on what else the machine is running.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from backbeat.api import create_app
from backbeat.api.auth import Caller
from backbeat.bench.stats import ms, percentile
from backbeat.config import (
    ApiSettings,
    CacheSettings,
    RateLimitSettings,
    Settings,
    SimulatorSettings,
)
from backbeat.demo.settings import simulated_settings
from backbeat.domain.services import open_services
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.consent import consent
from backbeat.simulator.server import BackgroundServer, free_port
from backbeat.spotify.auth import AccessToken

CLIENT = ("backbeat-bench-api", "backbeat-bench-api-secret")
UPSTREAM_LIMIT = 1_000_000  # requests per 30 s, in the simulator and in backbeat's budget
WORD = "a"  # in most artist names of the simulator's catalog
ENDPOINTS = ("bare", "auth", "cached", "miss")
PATHS = {
    "bare": "/bench/ping",
    "auth": "/bench/whoami",
    "cached": "/api/search",
    "miss": "/api/search",
}
START_TIMEOUT = 120.0  # spawning and importing on a busy 2-core machine can take a while
RESULT_GRACE = 120.0  # beyond the phases' own length


@dataclass(frozen=True, slots=True)
class LoadJob:
    api_url: str
    sim_url: str
    tokens: tuple[str, ...]
    endpoints: tuple[str, ...]
    seconds: float
    warmup: float
    concurrency: int
    rounds: int
    server_pid: int
    simulator_pid: int | None


@dataclass(slots=True)
class Phase:
    """What the load generator saw of one endpoint's measured interval."""

    endpoint: str
    elapsed_s: float = 0.0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx answers
    limiter_waits: list[float] = field(default_factory=list)  # seconds, from Server-Timing
    errors: Counter[str] = field(default_factory=Counter)  # status code or exception name
    upstream_calls: int = 0
    upstream_429: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = 0.0  # None: not readable (no /proc)
    simulator_cpu_s: float | None = 0.0


def bench_api(
    seconds: float,
    concurrency: int,
    *,
    warmup: float = 2.0,
    rounds: int = 5,
    users: int = 4,
    endpoints: tuple[str, ...] = ENDPOINTS,
) -> dict[str, Any]:
    """Start the simulator and the API, log `users` in, and from a separate process keep
    `concurrency` requests in flight on each endpoint: `warmup` seconds, then `seconds` in all,
    measured in `rounds` slices that take turns; the report, JSON-ready."""
    if rounds < 1 or seconds <= 0:
        raise ValueError("at least one round of a positive length")
    unknown = set(endpoints) - set(ENDPOINTS)
    if unknown or "bare" not in endpoints:
        raise ValueError(f"endpoints: some of {ENDPOINTS}, with bare (got {endpoints})")
    context = multiprocessing.get_context("spawn")
    # The three processes start side by side: spawning and importing is most of the set-up.
    # Leaving the pool's block terminates the load generator, even when it is stuck.
    with (
        context.Pool(1) as pool,
        _simulator(context, users) as (sim_url, simulator),
        tempfile.TemporaryDirectory(prefix="backbeat-bench-api-") as scratch,
    ):
        generator = pool.apply_async(os.getpid)
        api_port = free_port()
        settings = _api_settings(Path(scratch), sim_url, api_port)
        with BackgroundServer(_bench_app(settings), port=api_port) as server:
            _wait_until_up(f"{sim_url}/_sim/health", simulator)
            tokens = asyncio.run(_log_in(settings, sim_url, users))
            generator.get(timeout=START_TIMEOUT)
            job = LoadJob(
                server.url,
                sim_url,
                tuple(tokens),
                tuple(endpoints),
                seconds,
                warmup,
                concurrency,
                rounds,
                os.getpid(),
                simulator.pid,
            )
            budget = RESULT_GRACE + len(endpoints) * (warmup + seconds)
            load_before = _load_average()
            phases = pool.apply_async(run_load, (job,)).get(timeout=budget)
            load_after = _load_average()
    report = _report(job, phases)
    # Other work on the machine: the 1-minute load average as the load began and as it ended.
    report["load_average_1m"] = [load_before, load_after]
    return report


# -- the servers ---------------------------------------------------------------------------


def _simulator_settings(users: int) -> SimulatorSettings:
    return SimulatorSettings(
        artists=80, users=max(users, 20), limit=UPSTREAM_LIMIT, window=30.0, latency_ms=0.0
    )


@contextmanager
def _simulator(context: SpawnContext, users: int) -> Iterator[tuple[str, BaseProcess]]:
    """The simulator in a process of its own while the block runs: its URL and process."""
    port = free_port()
    process = context.Process(
        target=_serve_simulator, args=(_simulator_settings(users), port), daemon=True
    )
    process.start()
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


def _serve_simulator(settings: SimulatorSettings, port: int) -> None:
    """The simulator's process: uvicorn until terminated."""
    uvicorn.run(create_simulator(settings), host="127.0.0.1", port=port, log_level="warning")


def _wait_until_up(url: str, process: BaseProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if not process.is_alive():
            raise RuntimeError(f"the simulator exited (code {process.exitcode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the simulator did not answer on {url}")
        time.sleep(0.1)


def _api_settings(var: Path, sim_url: str, api_port: int) -> Settings:
    budget = f"{UPSTREAM_LIMIT}/30"
    return simulated_settings(
        var,
        sim_url,
        CLIENT,
        api_port=api_port,
        cache=CacheSettings(url="mem://"),
        ratelimit=RateLimitSettings(
            spotify_read=budget, spotify_write=budget, spotify_batch=budget
        ),
        api=ApiSettings(consumers="off"),
        # One load generator stands for many users: its per-user inbound cap is not measured.
        auth={"catalog_rate": "1000000/1"},
    )


def _bench_app(settings: Settings) -> FastAPI:
    """The API as `create_app` builds it, plus the bench's two routes."""
    app = create_app(settings)

    async def ping() -> dict[str, bool]:
        return {"ok": True}

    async def whoami(caller: Caller) -> dict[str, str]:
        return {"user": caller.user_id}

    app.add_api_route("/bench/ping", ping, methods=["GET"], include_in_schema=False)
    app.add_api_route("/bench/whoami", whoami, methods=["GET"], include_in_schema=False)
    return app


async def _log_in(settings: Settings, sim_url: str, users: int) -> list[str]:
    """As the demo does: each user consents, backbeat stores their tokens and issues an API
    session token."""
    tokens = []
    async with (
        open_services(settings) as services,
        httpx.AsyncClient(base_url=sim_url, timeout=30) as sim,
    ):
        for n in range(users):
            name = f"user{n:04d}"
            grant = await consent(sim, name, CLIENT, settings.auth.scopes)
            user = await services.users.find_or_create(name, display_name=name)
            expires = services.clock.time() + grant["expires_in"]
            token = AccessToken(
                grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
            )
            await services.tokens.save(user.id, token)
            tokens.append(await services.sessions.issue(user.id, "api"))
    return tokens


# -- the load generator (its own process) --------------------------------------------------


def run_load(job: LoadJob) -> list[Phase]:
    """The load generator's entry point: every endpoint warmed up, then measured in turns."""
    return asyncio.run(_drive(job))


async def _drive(job: LoadJob) -> list[Phase]:
    limits = httpx.Limits(
        max_connections=job.concurrency, max_keepalive_connections=job.concurrency
    )
    async with (
        httpx.AsyncClient(base_url=job.api_url, limits=limits, timeout=30) as api,
        httpx.AsyncClient(base_url=job.sim_url, timeout=30) as sim,
    ):
        for endpoint in job.endpoints:
            await _load(api, job, Phase(endpoint), job.warmup, "w")
        phases = {endpoint: Phase(endpoint) for endpoint in job.endpoints}
        # Round r measures every endpoint for seconds / rounds, starting at the r-th: a change
        # in the machine's other load spreads over all of them instead of landing on one.
        for r in range(job.rounds):
            shift = r % len(job.endpoints)
            for endpoint in job.endpoints[shift:] + job.endpoints[:shift]:
                await _measure(api, sim, job, phases[endpoint], f"m{r}-")
        return list(phases.values())


async def _measure(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, job: LoadJob, phase: Phase, tag: str
) -> None:
    """One slice of an endpoint's measured time, added to what `phase` holds."""
    calls_before, refused_before = await _upstream_counts(sim)
    cpu_before = _cpu(job)
    await _load(api, job, phase, job.seconds / job.rounds, tag)
    cpu_after = _cpu(job)
    calls_after, refused_after = await _upstream_counts(sim)
    phase.upstream_calls += calls_after - calls_before
    phase.upstream_429 += refused_after - refused_before
    phase.client_cpu_s += cpu_after[0] - cpu_before[0]
    phase.server_cpu_s = _add(phase.server_cpu_s, _spent(cpu_before[1], cpu_after[1]))
    phase.simulator_cpu_s = _add(phase.simulator_cpu_s, _spent(cpu_before[2], cpu_after[2]))


async def _load(
    api: httpx.AsyncClient, job: LoadJob, phase: Phase, seconds: float, tag: str
) -> None:
    """`job.concurrency` loops, each sending its next request as soon as the last is answered,
    until `seconds` have passed; requests started before then are awaited and counted."""
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(worker: int) -> None:
        headers = {"Authorization": f"Bearer {job.tokens[worker % len(job.tokens)]}"}
        n = 0
        while time.perf_counter() < deadline:
            params = _params(phase.endpoint, f"{tag}{worker}x{n}")
            n += 1
            began = time.perf_counter()
            try:
                response = await api.get(PATHS[phase.endpoint], params=params, headers=headers)
            except httpx.HTTPError as error:
                phase.requests += 1
                phase.errors[type(error).__name__] += 1
                continue
            took = time.perf_counter() - began
            phase.requests += 1
            if 200 <= response.status_code < 300:
                phase.latencies.append(took)
                phase.limiter_waits.append(_limiter_wait(response))
            else:
                phase.errors[str(response.status_code)] += 1

    await asyncio.gather(*(loop(worker) for worker in range(job.concurrency)))
    phase.elapsed_s += time.perf_counter() - started


def _params(endpoint: str, unique: str) -> dict[str, str]:
    if endpoint == "cached":
        return {"q": WORD, "type": "artist"}
    if endpoint == "miss":
        return {"q": f"{WORD} tag:{unique}", "type": "artist"}
    return {}


def _limiter_wait(response: httpx.Response) -> float:
    """Seconds the request's upstream calls waited for budget (`limiter;dur=<ms>`)."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";")
        if name == "limiter" and rest.startswith("dur="):
            return float(rest[4:]) / 1000
    return 0.0


async def _upstream_counts(sim: httpx.AsyncClient) -> tuple[int, int]:
    """Search calls the simulator answered, and of which 429, over every app."""
    apps = (await sim.get("/_sim/stats")).json()["apps"]
    found = [app["by_endpoint"].get("search", {}) for app in apps.values()]
    return sum(c.get("requests", 0) for c in found), sum(c.get("http_429", 0) for c in found)


def _cpu(job: LoadJob) -> tuple[float, float | None, float | None]:
    """CPU seconds so far: this process, the API's, the simulator's."""
    simulator = _process_cpu(job.simulator_pid) if job.simulator_pid is not None else None
    return time.process_time(), _process_cpu(job.server_pid), simulator


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads) from /proc; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # fields 3… (the name may hold spaces)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _add(total: float | None, more: float | None) -> float | None:
    return None if total is None or more is None else total + more


# -- the report ----------------------------------------------------------------------------


def _report(job: LoadJob, phases: list[Phase]) -> dict[str, Any]:
    figures = {phase.endpoint: _figures(phase) for phase in phases}
    bare = figures["bare"]
    for found in figures.values():
        found["rps_ratio_vs_bare"] = _ratio(found["requests_per_s"], bare["requests_per_s"])
        found["p50_ratio_vs_bare"] = _ratio(found["p50_ms"], bare["p50_ms"])
        found["cpu_ratio_vs_bare"] = _ratio(
            found["server_cpu_ms_per_request"], bare["server_cpu_ms_per_request"]
        )
    return {
        "seconds": job.seconds,
        "warmup_s": job.warmup,
        "rounds": job.rounds,
        "concurrency": job.concurrency,
        "users": len(job.tokens),
        "upstream_limit": f"{UPSTREAM_LIMIT}/30",
        "server": "uvicorn, 1 worker, in a thread of the bench process",
        "load_generator": "1 spawn process, httpx.AsyncClient, HTTP/1.1 keep-alive",
        "errors": sum(found["errors"] for found in figures.values()),
        "endpoints": figures,
        "environment": _environment(),
    }


def _figures(phase: Phase) -> dict[str, Any]:
    elapsed = phase.elapsed_s
    ok = len(phase.latencies)
    return {
        "path": PATHS[phase.endpoint],
        "elapsed_s": round(elapsed, 3),
        "requests": phase.requests,
        "ok": ok,
        "requests_per_s": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": ms(percentile(phase.latencies, 50)),
        "p90_ms": ms(percentile(phase.latencies, 90)),
        "p99_ms": ms(percentile(phase.latencies, 99)),
        "max_ms": ms(max(phase.latencies, default=None)),
        "errors": sum(phase.errors.values()),
        "errors_by_status": dict(sorted(phase.errors.items())),
        "upstream_calls": phase.upstream_calls,
        "upstream_429": phase.upstream_429,
        "limiter_wait_p99_ms": ms(percentile(phase.limiter_waits, 99)),
        "client_cpu": _share(phase.client_cpu_s, elapsed),
        "server_cpu": _share(phase.server_cpu_s, elapsed),
        "simulator_cpu": _share(phase.simulator_cpu_s, elapsed),
        "server_cpu_ms_per_request": _per_request(phase.server_cpu_s, phase.requests),
        "client_cpu_ms_per_request": _per_request(phase.client_cpu_s, phase.requests),
    }


def _ratio(value: float | None, ceiling: float | None) -> float | None:
    return None if value is None or not ceiling else round(value / ceiling, 3)


def _share(cpu_s: float | None, elapsed: float) -> float | None:
    return None if cpu_s is None or elapsed <= 0 else round(cpu_s / elapsed, 2)


def _per_request(cpu_s: float | None, requests: int) -> float | None:
    return None if cpu_s is None or not requests else round(cpu_s * 1000 / requests, 3)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _environment() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "httpx": version("httpx"),
        # What uvicorn's "auto" picks: httptools and uvloop when installed, else h11, asyncio.
        "http": "httptools" if find_spec("httptools") else "h11",
        "loop": "uvloop" if find_spec("uvloop") else "asyncio",
    }
