"""The demo's moving parts. `DemoSystem` starts the simulator and the API (real HTTP servers on
loopback, embedded defaults: SQLite, SQLite-backed Huey, the in-memory limiter), logs N simulated
users in, fires the daily scans (organizer + listening ingest) the scheduler would fire at 02:00,
and searches as a user would while they run. Every period — the simulator's windows, backbeat's
budget, retries — is divided by the time scale; the upstream limits are Spotify's defaults."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from backbeat.api import create_app
from backbeat.config import (
    JobsSettings,
    RateLimitSettings,
    Settings,
    SimulatorSettings,
)
from backbeat.demo.settings import simulated_settings
from backbeat.domain.services import Services, open_services
from backbeat.jobs.host import embedded_jobs
from backbeat.jobs.runtime import JobRuntime
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.consent import consent
from backbeat.simulator.server import BackgroundServer, free_port
from backbeat.spotify.auth import AccessToken

CLIENT = ("backbeat-demo", "backbeat-demo-secret")
SIM_LIMIT = 100  # the simulated app's requests per rolling 30 s, over every class


def demo_settings(var: Path, sim_url: str, api_port: int, scale: float) -> Settings:
    jobs = JobsSettings()
    return simulated_settings(
        var,
        sim_url,
        CLIENT,
        api_port=api_port,
        # The simulated app may make 100 calls per window in all: one window over them all.
        ratelimit=RateLimitSettings(spotify_shared=f"{SIM_LIMIT}/30")
        .time_scaled(scale)
        .model_copy(update={"spotify_shared": f"{SIM_LIMIT}/{30 / scale:g}"}),
        auth={"ingest_rate": "1000/60"},
        jobs={
            "poll_max_delay": 0.1,
            "retry_delays": tuple(delay / scale for delay in jobs.retry_delays),
            "ban_jitter": jobs.ban_jitter / scale,
            "inter_user_delay": jobs.inter_user_delay / scale,
            "max_concurrent_users": 8,
            "heartbeat_interval": max(1.0, jobs.heartbeat_interval / scale),
            "stale_after": max(10.0, jobs.stale_after / scale),
        },
    )


@dataclass
class DemoReport:
    users: int
    jobs_total: int = 0
    jobs_succeeded: int = 0
    jobs_failed: int = 0
    upstream_calls: int = 0
    http_429: int = 0
    max_in_window: int = 0
    limit: int = SIM_LIMIT
    latencies_ms: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def done(self) -> bool:
        return self.jobs_total > 0 and self.jobs_succeeded + self.jobs_failed >= self.jobs_total

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "jobs_succeeded": self.jobs_succeeded,
            "jobs_failed": self.jobs_failed,
            "upstream_calls": self.upstream_calls,
            "http_429": self.http_429,
            "max_in_window": self.max_in_window,
            "limit": self.limit,
            "interactive_p50_ms": round(statistics.median(self.latencies_ms or [0.0]), 1),
            "interactive_p99_ms": round(self.percentile(0.99), 1),
            "interactive_calls": len(self.latencies_ms),
            "elapsed_s": round(self.elapsed_s, 1),
        }


class DemoSystem:
    def __init__(self, users: int, scale: float, port: int | None = None) -> None:
        self.users = users
        self.scale = scale
        self.port = port or free_port()
        self.report = DemoReport(users)
        self.settings: Settings | None = None
        self.sim_url = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def servers(self) -> Iterator[Settings]:
        """The simulator and the API, serving until the block ends; var/ in a temporary place."""
        simulator = SimulatorSettings(
            users=max(self.users, 20), time_scale=self.scale, limit=SIM_LIMIT
        )
        with (
            tempfile.TemporaryDirectory(prefix="backbeat-demo-") as scratch,
            BackgroundServer(create_simulator(simulator)) as sim,
        ):
            self.sim_url = sim.url
            settings = demo_settings(Path(scratch), sim.url, self.port, self.scale)
            self.settings = settings
            with BackgroundServer(create_app(settings), port=self.port):
                yield settings

    @asynccontextmanager
    async def driver(self, settings: Settings) -> AsyncIterator[tuple[Services, JobRuntime]]:
        """What automation would use: the same database and queues as the API, no consumers."""
        async with (
            open_services(settings) as services,
            embedded_jobs(services, consumers=False) as runtime,
        ):
            yield services, runtime

    async def log_in(self, services: Services) -> list[str]:
        """Every simulated user consents; backbeat stores their tokens (as a login would) and
        hands each an API token for the searches."""
        tokens = []
        async with httpx.AsyncClient(base_url=self.sim_url, timeout=30) as sim:
            for n in range(self.users):
                name = f"user{n:04d}"
                grant = await consent(sim, name, CLIENT, services.settings.auth.scopes)
                user = await services.users.find_or_create(name, display_name=name)
                expires = services.clock.time() + grant["expires_in"]
                token = AccessToken(
                    grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
                )
                await services.tokens.save(user.id, token)
                tokens.append(await services.sessions.issue(user.id, "api"))
        return tokens

    async def daily_scan(self, runtime: JobRuntime) -> int:
        """What the scheduler fires at 02:00: every user's library scan and listening ingest,
        each spread over the window its budget needs."""
        created = 0
        for name in ("organize_all_users", "ingest_all_users"):
            enqueued = await runtime.cron[name]()
            created += enqueued if isinstance(enqueued, int) else 0
        return created

    async def search_meanwhile(self, api_tokens: list[str], stop: asyncio.Event) -> None:
        words = ["love", "night", "amor", "nuit", "liebe", "notte", "coração", "dream"]
        rng = random.Random(7)
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as api:
            while not stop.is_set():
                token = rng.choice(api_tokens)
                began = time.perf_counter()
                response = await api.get(
                    "/api/search",
                    params={"q": rng.choice(words) + rng.choice("abcdefghij"), "type": "track"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if response.status_code == 200:
                    self.report.latencies_ms.append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(0.25)

    async def observe(self, runtime: JobRuntime) -> None:
        counts = await runtime.store.counts()
        self.report.jobs_total = sum(counts.values())
        self.report.jobs_succeeded = counts["succeeded"]
        self.report.jobs_failed = counts["failed"]
        async with httpx.AsyncClient(base_url=self.sim_url) as sim:
            apps = (await sim.get("/_sim/stats")).json()["apps"]
        stats = apps.get(CLIENT[0], {})
        self.report.upstream_calls = stats.get("requests", 0)
        self.report.http_429 = stats.get("http_429", 0)
        self.report.max_in_window = stats.get("max_in_window", 0)
        self.report.limit = stats.get("limit", SIM_LIMIT)
