"""The `backbeat` strategy of `bench scan`: the real system as deployed, on this machine.

K `backbeat worker` processes and 2 `backbeat serve` processes share Redis (queues, the global
limiter, the user limiter) and a fresh Postgres database; this process logs the users in, fires
the daily scan as the scheduler would (both cron tasks), and makes interactive calls (searches,
albums) through the two APIs until every job has ended. Jobs are released at once
(`scan_calls_per_user` ~ 0): the limiter alone paces them, which is what is measured. Logical
calls are the workers' `backbeat_upstream_requests_total` (asked, before cache and sharing).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from backbeat.bench.scan import (
    INTERACTIVE_EVERY,
    Interactive,
    Outcome,
    ScanSpec,
    Simulator,
    backbeat_command,
    search_word,
    stop,
    wait_until_up,
)
from backbeat.config import RateLimitSettings, Settings
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from backbeat.simulator.server import free_port
from backbeat.spotify.auth import AccessToken

API_PROCESSES = 2


def system_env(spec: ScanSpec, sim_url: str, database_url: str, prefix: str) -> dict[str, str]:
    """Every process's settings, as the environment a deployment would give them."""
    scale = spec.time_scale
    read = RateLimitSettings().spotify_read
    limits = RateLimitSettings(spotify_shared=read, margin=spec.margin).time_scaled(scale)
    return {
        "BACKBEAT_ENVIRONMENT": "development",
        "BACKBEAT_REDIS_URL": spec.redis_url,
        "BACKBEAT_DATABASE__URL": database_url,
        "BACKBEAT_SPOTIFY__CLIENT_ID": spec.client[0],
        "BACKBEAT_SPOTIFY__CLIENT_SECRET": spec.client[1],
        "BACKBEAT_SPOTIFY__API_URL": f"{sim_url}/v1",
        "BACKBEAT_SPOTIFY__ACCOUNTS_URL": sim_url,
        "BACKBEAT_RECCOBEATS__URL": f"{sim_url}/reccobeats",
        "BACKBEAT_RATELIMIT__URL": spec.redis_url,
        "BACKBEAT_RATELIMIT__SPOTIFY_READ": limits.spotify_read,
        "BACKBEAT_RATELIMIT__SPOTIFY_WRITE": limits.spotify_write,
        "BACKBEAT_RATELIMIT__SPOTIFY_BATCH": limits.spotify_batch,
        "BACKBEAT_RATELIMIT__SPOTIFY_SHARED": limits.spotify_shared or read,
        "BACKBEAT_RATELIMIT__MARGIN": str(spec.margin),
        "BACKBEAT_RATELIMIT__EXPECTED_PROCESSES": str(spec.processes + API_PROCESSES),
        "BACKBEAT_SECURITY__TOKEN_KEYS": Fernet.generate_key().decode(),
        "BACKBEAT_AUTH__SESSION_SECRET": secrets.token_urlsafe(32),
        "BACKBEAT_AUTH__ADMIN_TOKEN": secrets.token_urlsafe(16),
        "BACKBEAT_AUTH__COOKIE_SECURE": "false",
        "BACKBEAT_JOBS__PREFIX": prefix,
        "BACKBEAT_JOBS__RETRY_DELAYS": f"[{120 / scale},{240 / scale},{480 / scale}]",
        "BACKBEAT_JOBS__BAN_JITTER": str(60 / scale),
        "BACKBEAT_JOBS__INTER_USER_DELAY": "0",
        "BACKBEAT_JOBS__MAX_CONCURRENT_USERS": str(8 * spec.processes),  # every thread busy
        "BACKBEAT_JOBS__HEARTBEAT_INTERVAL": "2",
        "BACKBEAT_JOBS__STALE_AFTER": "60",
        "BACKBEAT_JOBS__SCAN_CALLS_PER_USER": "0.001",
        "BACKBEAT_JOBS__POLL_MAX_DELAY": "0.1",
        "BACKBEAT_API__CONSUMERS": "off",
    }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block only (the caller may be a test process)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new Postgres database on `server_url`, dropped afterwards."""
    url = make_url(server_url)
    name = f"backbeat_bench_{uuid.uuid4().hex[:10]}"

    async def admin() -> asyncpg.Connection:
        return await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database=url.database
        )

    connection = await admin()
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await admin()
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def run_backbeat(spec: ScanSpec, sim: Simulator, log_dir: Path) -> Outcome:
    prefix = f"bbscan{uuid.uuid4().hex[:8]}"
    async with scratch_database(spec.postgres_url) as database_url:
        env = system_env(spec, sim.url, database_url, prefix)
        with environment(env):  # this process reads the same settings as the ones it starts
            settings = Settings()
        try:
            return await _run(spec, sim, settings, {**os.environ, **env}, log_dir)
        finally:
            _drop_keys(spec.redis_url, prefix, spec.client[0])


async def _run(
    spec: ScanSpec, sim: Simulator, settings: Settings, env: dict[str, str], log_dir: Path
) -> Outcome:
    users = [f"user{n:04d}" for n in range(spec.users)]
    grants = await sim.tokens(users)
    async with open_services(settings) as services:
        api_tokens: list[str] = []
        for name in users:
            user = await services.users.find_or_create(name, display_name=name)
            grant = grants[name]
            expires = services.clock.time() + grant["expires_in"]
            token = AccessToken(
                grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
            )
            await services.tokens.save(user.id, token)
            if len(api_tokens) < 10:
                api_tokens.append(await services.sessions.issue(user.id, "api"))
        api_ports = [free_port() for _ in range(API_PROCESSES)]
        metrics_ports = [free_port() for _ in range(spec.processes)]
        started: list[subprocess.Popen[bytes]] = []
        try:
            for port in api_ports:
                started.append(_start(log_dir, env, "serve", f"--port={port}"))
            for port in metrics_ports:
                started.append(
                    _start(log_dir, env, "worker", "--queues=spotify", f"--metrics-port={port}")
                )
            for process, port in zip(started, api_ports, strict=False):
                wait_until_up(f"http://127.0.0.1:{port}/health/live", process)
            workers = started[API_PROCESSES:]
            for process, port in zip(workers, metrics_ports, strict=True):
                wait_until_up(f"http://127.0.0.1:{port}/metrics", process)
            async with embedded_jobs(services, consumers=False) as runtime:
                total = 0
                for cron in ("organize_all_users", "ingest_all_users"):
                    created = await runtime.cron[cron]()
                    total += created if isinstance(created, int) else 0
                stop_calls = asyncio.Event()
                collected: list[Interactive] = []
                driver = asyncio.create_task(
                    _interactive(api_ports, api_tokens, spec.time_scale, stop_calls, collected)
                )
                deadline = time.monotonic() + spec.max_seconds
                counts: dict[str, int] = {}
                while time.monotonic() < deadline:
                    counts = dict(await runtime.store.counts())
                    if counts.get("succeeded", 0) + counts.get("failed", 0) >= total:
                        break
                    await asyncio.sleep(0.5)
                stop_calls.set()
                await driver
            logical = sum(_asked(port) for port in metrics_ports)
        finally:
            for process in started:
                stop(process)
    unfinished = total - counts.get("succeeded", 0)
    return Outcome(logical, unfinished, collected, {"jobs_total": total})


def _start(log_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with (log_dir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log").open("wb") as log:
        return subprocess.Popen(
            [*backbeat_command(), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )


async def _interactive(
    ports: list[int],
    tokens: list[str],
    scale: float,
    stop_calls: asyncio.Event,
    collected: list[Interactive],
) -> None:
    """Searches and album look-ups through both APIs, one every INTERACTIVE_EVERY s; the
    limiter's wait comes back in Server-Timing and is the scaled part of the latency."""
    rng = random.Random(7)
    apis = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=60) for p in ports]
    try:
        first = await apis[0].get(
            "/api/search",
            params={"q": "a", "type": "album"},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        albums = [a["id"] for a in first.json()["items"]]
        for n in itertools.count():
            try:
                await asyncio.wait_for(stop_calls.wait(), INTERACTIVE_EVERY)
                return
            except TimeoutError:
                pass
            api = apis[n % len(apis)]
            headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
            began = time.perf_counter()
            if n % 2:
                answer = await api.get(f"/api/albums/{rng.choice(albums)}", headers=headers)
            else:
                word = search_word(rng)
                params = {"q": word, "type": "track"}
                answer = await api.get("/api/search", params=params, headers=headers)
            wall = time.perf_counter() - began
            waited = _limiter_wait(answer.headers.get("server-timing", ""))
            collected.append(Interactive(wall, waited, answer.status_code == 200))
    finally:
        for api in apis:
            await api.aclose()


def _limiter_wait(header: str) -> float:
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "limiter" and duration:
            return float(duration) / 1000
    return 0.0


def _asked(port: int) -> int:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == "backbeat_upstream_requests":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return int(total)


def _drop_keys(url: str, *patterns: str) -> None:
    with redis.Redis.from_url(url) as client:
        for pattern in patterns:
            keys = list(client.scan_iter(match=f"*{pattern}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
