"""Shared set-up of the upstream fault tests: the simulator (and, where a test needs one,
backbeat's API server) as a real HTTP server in a process of its own, backbeat's settings for
it at a time scale, simulated users logged in (as a login would store their tokens), the daily
scan fired, taps on the limiter and the job store, and what the simulator and the job table
show afterwards.

Everything runs on loopback. Periods of the simulated world — the simulator's windows,
Retry-After, timeouts, backbeat's budget windows, job retry delays — are divided by the time
scale, so no test waits on a rate window of the wall clock. With Redis, every key of a run
carries its unique client id, and only those keys are deleted afterwards."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import httpx
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import select

from backbeat.clock import SystemClock
from backbeat.config import (
    AuthSettings,
    CacheSettings,
    DatabaseSettings,
    JobsSettings,
    RateLimitSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SpotifySettings,
)
from backbeat.db.models import BackgroundJob
from backbeat.domain.services import Services
from backbeat.jobs.lifecycle import ACTIVE, JobRecord
from backbeat.jobs.runtime import JobRuntime
from backbeat.jobs.sqlstore import SqlJobStore
from backbeat.ratelimit import Grant, Limiter, OpClass, Priority
from backbeat.ratelimit.backends.base import OutcomeKind
from backbeat.simulator.consent import consent
from backbeat.simulator.server import free_port
from backbeat.spotify.auth import AccessToken

TOKEN_KEY = "Wp9rmoPBUwhG0VjU2v0v7Rr3oBZJcIP2yZVfI1I0cGQ="
SCAN_CRONS = ("organize_all_users", "ingest_all_users")


def unique(prefix: str) -> str:
    """A client id no other run on the shared Redis uses: the limiter's keys carry it, and
    `fleet_settings` derives the Huey and lock prefixes from it."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def forget_redis_keys(redis_url: str, client_id: str) -> int:
    """Delete this run's keys (and only them: never FLUSHDB the shared server)."""
    token = client_id.rsplit("-", 1)[-1]
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{token}*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        await client.aclose()


def _environment() -> dict[str, str]:
    """This environment without BACKBEAT_ variables: a child is configured by its arguments."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKBEAT_")}


class ServerProcess:
    """An HTTP server in a process of its own (the machine's other core, its own GIL), started
    by `with` once its health URL answers, stopped by its pid when the block ends."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def health(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> Self:
        command, env = self.command()
        self._process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.health(), timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{type(self).__name__} did not start on {self.url}")
            time.sleep(0.1)  # waiting for a process to listen, not a rate window

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class SimulatorProcess(ServerProcess):
    """`backbeat simulator serve` with the given options (`--name value`)."""

    def __init__(self, **options: object) -> None:
        super().__init__()
        self.options = options

    def command(self) -> tuple[list[str], dict[str, str]]:
        command = [sys.executable, "-m", "backbeat.cli.main", "simulator", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        for name, value in self.options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        return command, _environment()

    def health(self) -> str:
        return f"{self.url}/_sim/health"


# `create_app(settings)` under uvicorn, the settings handed over as JSON.
_API_SCRIPT = """
import json, os, sys
import uvicorn
from backbeat.api import create_app
from backbeat.config import Settings
settings = Settings.model_validate(json.loads(os.environ["FAULTS_SETTINGS"]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _revealed(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    raise TypeError(f"cannot serialize {type(value).__name__}")


class ApiProcess(ServerProcess):
    """backbeat's API server (`create_app(settings)`) in a process of its own."""

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(port)
        self.settings = settings

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = _environment()
        env["FAULTS_SETTINGS"] = json.dumps(self.settings.model_dump(), default=_revealed)
        return [sys.executable, "-c", _API_SCRIPT, str(self.port)], env

    def health(self) -> str:
        return f"{self.url}/health/live"


def fleet_settings(
    var: Path,
    sim_url: str,
    *,
    client_id: str,
    scale: float,
    limit: int,
    database_url: str,
    redis_url: str | None = None,
    api_url: str = "http://127.0.0.1:9",
    ratelimit: dict[str, Any] | None = None,
    jobs: dict[str, Any] | None = None,
    spotify_timeout: float = 10.0,
) -> Settings:
    """backbeat pointed at the simulator, its budget the simulator's `limit` per 30 simulated
    seconds (one window over every class, as Spotify counts), every period divided by `scale`.
    With `redis_url` the limiter and the queues live in Redis under names of this run only."""
    defaults = JobsSettings()
    chosen: dict[str, Any] = {
        "var_dir": str(var / "queues"),
        "prefix": client_id.replace("-", "_"),
        "poll_max_delay": 0.05,
        "retry_delays": tuple(delay / scale for delay in defaults.retry_delays),
        "ban_jitter": defaults.ban_jitter / scale,
        "inter_user_delay": defaults.inter_user_delay / scale,
        "max_concurrent_users": 8,
        "heartbeat_interval": 1.0,
        "stale_after": 60.0,
    }
    jobs_settings = JobsSettings(**{**chosen, **(jobs or {})})
    rates = RateLimitSettings(url=redis_url or "memory://").time_scaled(scale)
    rates = rates.model_copy(
        update={"spotify_shared": f"{limit}/{30 / scale:g}", **(ratelimit or {})}
    )
    return Settings(
        environment="test",
        redis_url=redis_url,
        spotify=SpotifySettings(
            client_id=client_id,
            client_secret=f"{client_id}-secret",
            api_url=f"{sim_url}/v1",
            accounts_url=sim_url,
            timeout=spotify_timeout,
        ),
        reccobeats=ReccoBeatsSettings(url=f"{sim_url}/reccobeats"),
        # This process's own cache: no other run's entries, every scan asks the simulator.
        cache=CacheSettings(url="mem://"),
        ratelimit=rates,
        database=DatabaseSettings(url=database_url),
        security=SecuritySettings(token_keys=[TOKEN_KEY]),
        auth=AuthSettings(
            session_secret="faults-secret",
            redirect_uri=f"{api_url}/auth/callback",
            cookie_secure=False,
            ingest_rate="1000/60",
        ),
        jobs=jobs_settings,
    )


async def log_in(services: Services, sim_url: str, names: list[str]) -> dict[str, str]:
    """Each simulated user consents to the app; backbeat stores their tokens as its login
    callback would. Returns simulated user → backbeat user id."""
    settings = services.settings
    app = (settings.spotify.client_id, settings.spotify.client_secret)
    ids: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as sim:
        for name in names:
            grant = await consent(sim, name, app, settings.auth.scopes)
            user = await services.users.find_or_create(name, display_name=name)
            expires = services.clock.time() + grant["expires_in"]
            token = AccessToken(
                grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
            )
            await services.tokens.save(user.id, token)
            ids[name] = user.id
    return ids


def sim_users(n: int) -> list[str]:
    return [f"user{index:04d}" for index in range(n)]


async def fire_daily_scan(runtime: JobRuntime, crons: tuple[str, ...] = SCAN_CRONS) -> int:
    """What the scheduler fires at 02:00: each user's jobs, spread over the budget's window."""
    created = 0
    for name in crons:
        enqueued = await runtime.cron[name]()
        created += enqueued if isinstance(enqueued, int) else 0
    return created


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    user_id: str | None
    status: str
    attempts: int
    error: str | None


async def job_rows(services: Services) -> list[JobRow]:
    async with services.database.sessions() as session:
        rows = await session.scalars(select(BackgroundJob))
        return [
            JobRow(row.id, row.kind, row.user_id, row.status, row.attempts, row.error)
            for row in rows
        ]


async def settle(services: Services, expected: int, *, within: float) -> list[JobRow]:
    """Poll the job table until `expected` jobs exist and none is active any more."""
    deadline = time.monotonic() + within
    active = {status.value for status in ACTIVE}
    while True:
        rows = await job_rows(services)
        if len(rows) >= expected and not any(row.status in active for row in rows):
            return rows
        if time.monotonic() > deadline:
            states = Counter(row.status for row in rows)
            raise AssertionError(f"jobs still active after {within:.0f} s: {dict(states)}")
        await asyncio.sleep(0.2)  # polling the table, not a rate window


async def sim_stats(sim_url: str, client_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as sim:
        apps: dict[str, Any] = (await sim.get("/_sim/stats")).json()["apps"]
    found: dict[str, Any] = apps.get(client_id, {})
    return found


async def sim_post(sim_url: str, path: str, body: Any = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as sim:
        response = await sim.post(path, json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def status_counts(rows: list[JobRow]) -> dict[str, int]:
    return dict(Counter(row.status for row in rows))


class RecordingClock(SystemClock):
    """The system clock, remembering every sleep backbeat asks of it (seconds, thread)."""

    def __init__(self) -> None:
        self.sleeps: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append((seconds, threading.current_thread().name))
        await super().sleep(seconds)

    @property
    def longest(self) -> float:
        with self._lock:
            return max((seconds for seconds, _ in self.sleeps), default=0.0)


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    what: str  # running, succeeded, failed, retrying, deferred
    at: float  # wall clock
    run_at: float | None = None  # deferred/retrying: the next run


class TappedStore(SqlJobStore):
    """The job store the runner writes through, noting each transition with its time."""

    def __init__(self, store: SqlJobStore) -> None:
        super().__init__(store._sessions)
        self.events: list[JobEvent] = []

    def _note(self, job_id: str, what: str, run_at: datetime | None = None) -> None:
        at = None if run_at is None else run_at.timestamp()
        self.events.append(JobEvent(job_id, what, time.time(), at))

    async def mark_running(self, job_id: str, *, now: datetime) -> JobRecord | None:
        claimed = await super().mark_running(job_id, now=now)
        if claimed is not None:
            self._note(job_id, "running")
        return claimed

    async def succeeded(self, job_id: str, attempt: int, result: Any, *, now: datetime) -> bool:
        self._note(job_id, "succeeded")
        return await super().succeeded(job_id, attempt, result, now=now)

    async def failed(self, job_id: str, attempt: int, error: str, *, now: datetime) -> bool:
        self._note(job_id, "failed")
        return await super().failed(job_id, attempt, error, now=now)

    async def retrying(
        self, job_id: str, attempt: int, error: str, *, run_at: datetime, now: datetime
    ) -> bool:
        self._note(job_id, "retrying", run_at)
        return await super().retrying(job_id, attempt, error, run_at=run_at, now=now)

    async def deferred(
        self, job_id: str, attempt: int, reason: str, *, run_at: datetime, now: datetime
    ) -> bool:
        self._note(job_id, "deferred", run_at)
        return await super().deferred(job_id, attempt, reason, run_at=run_at, now=now)

    def attempts(self) -> list[tuple[str, float, str, float, float | None]]:
        """(job, started, outcome, ended, next run) of every attempt, in order."""
        started: dict[str, float] = {}
        found = []
        for event in self.events:
            if event.what == "running":
                started[event.job_id] = event.at
            elif event.job_id in started:
                begun = started.pop(event.job_id)
                found.append((event.job_id, begun, event.what, event.at, event.run_at))
        return found


@dataclass(frozen=True)
class Throttled:
    """One 429 a process reported, with the app's shared state read right after the report."""

    process: int
    kind: str  # rate_limited (a pause) or quota (a ban)
    granted_at: float  # the store's clock when the call got its slot
    reported_at: float  # wall clock, once the report was applied
    retry_after: float | None
    paused_at: float  # the start of the pause episode the report left in force
    pause_until: float
    multiplier: float
    ban_until: float


def _number(raw: bytes | str | None, default: float) -> float:
    return default if raw is None else float(raw)


class TappedLimiter(Limiter):
    """A process's limiter (same store, same policies), noting every grant and, after every
    429 it reports, the pause, ban and ceiling the shared store holds."""

    def __init__(self, limiter: Limiter, process: int, probe: aioredis.Redis, app: str) -> None:
        super().__init__(limiter.backend, limiter.policies, limiter.clock)
        self.process = process
        self.probe = probe
        self.state_key = f"bb:rl:{{{app}}}:state"  # backends/redis.py's key of the app's state
        self.grants: list[float] = []
        self.throttled: list[Throttled] = []

    async def acquire(
        self,
        app: str,
        op_class: OpClass = "read",
        *,
        endpoint: str | None = None,
        priority: Priority = Priority.NORMAL,
        cost: int = 1,
        max_wait: float | None = None,
        held: bool = False,
    ) -> Grant:
        grant = await super().acquire(
            app,
            op_class,
            endpoint=endpoint,
            priority=priority,
            cost=cost,
            max_wait=max_wait,
            held=held,
        )
        self.grants.append(grant.granted_at)
        return grant

    async def report(
        self, grant: Grant, kind: OutcomeKind = "success", retry_after: float | None = None
    ) -> None:
        await super().report(grant, kind, retry_after)
        if kind in ("rate_limited", "quota"):
            fields = ["paused_at", "pause_until", "multiplier", "ban_until"]
            paused_at, until, multiplier, banned = await self.probe.hmget(self.state_key, fields)
            self.throttled.append(
                Throttled(
                    self.process,
                    kind,
                    grant.granted_at,
                    time.time(),
                    retry_after,
                    _number(paused_at, -math.inf),
                    _number(until, 0.0),
                    _number(multiplier, 1.0),
                    _number(banned, 0.0),
                )
            )


def rolling_max(times: list[float], window: float) -> int:
    """The most events in any window `(t - window, t]` (the simulator's own rule)."""
    best, start = 0, 0
    ordered = sorted(times)
    for end, at in enumerate(ordered):
        while ordered[start] + window <= at:
            start += 1
        best = max(best, end - start + 1)
    return best


def calls_by_status(registry: CollectorRegistry) -> dict[str, int]:
    """Requests an `UpstreamStack` sent, by the status that came back (`error`: no answer)."""
    counts: Counter[str] = Counter()
    for metric in registry.collect():
        if metric.name == "backbeat_upstream_calls":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["status"]] += int(sample.value)
    return dict(counts)
