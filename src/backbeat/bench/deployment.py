"""The real system deployed on this machine for a benchmark: every process's settings (as
the environment a deployment gives them), a scratch Postgres database, logged-in users, `backbeat
serve` processes, and what their /metrics count. Shared by `bench scan` and `bench catalog`."""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis
from cryptography.fernet import Fernet
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from backbeat.bench.scan import Simulator, World, backbeat_command, wait_until_up
from backbeat.config import RateLimitSettings, Settings
from backbeat.domain.services import Services
from backbeat.simulator.server import free_port
from backbeat.spotify.auth import AccessToken


class System(World, Protocol):
    """What a bench's spec tells the deployment besides the simulator's world: the limiter's
    margin, how many processes, the stores."""

    @property
    def margin(self) -> float: ...

    @property
    def processes(self) -> int: ...

    @property
    def redis_url(self) -> str: ...

    @property
    def postgres_url(self) -> str: ...


def system_env(
    spec: System, sim_url: str, database_url: str, prefix: str, *, expected_processes: int
) -> dict[str, str]:
    """Every process's settings, as the environment a deployment would give them."""
    scale = spec.time_scale
    read = RateLimitSettings().spotify_read
    # The simulator enforces one window over every call (the read limit), as Spotify does:
    # backbeat is told that window, its class windows no stricter. The seeds' per-class guesses
    # (30 writes, 20 batch gets) would hold a write-heavy phase below the upstream's real limit.
    limits = RateLimitSettings(
        spotify_read=read,
        spotify_write=read,
        spotify_batch=read,
        spotify_shared=read,
        margin=spec.margin,
    ).time_scaled(scale)
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
        "BACKBEAT_RATELIMIT__EXPECTED_PROCESSES": str(expected_processes),
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


@asynccontextmanager
async def deployment(
    spec: System,
    sim: Simulator,
    prefix: str,
    expected_processes: int,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[tuple[Settings, dict[str, str]]]:
    """A scratch database and every process's settings (`settings` on top of `system_env`):
    the settings this process reads and the environment of the processes it starts. The keys
    named by `prefix` and the app are removed from Redis afterwards."""
    async with scratch_database(spec.postgres_url) as database_url:
        env = system_env(spec, sim.url, database_url, prefix, expected_processes=expected_processes)
        env.update(settings or {})
        with environment(env):  # this process reads the same settings as the ones it starts
            read = Settings()
        try:
            yield read, {**os.environ, **env}
        finally:
            drop_keys(spec.redis_url, prefix, spec.client[0])


async def log_in(
    services: Services, sim: Simulator, users: list[str], api_tokens: int
) -> list[str]:
    """The simulated users consent and are stored with their Spotify tokens, as a login does;
    an API token for each of the first `api_tokens` of them."""
    grants = await sim.tokens(users)
    issued: list[str] = []
    for name in users:
        user = await services.users.find_or_create(name, display_name=name)
        grant = grants[name]
        expires = services.clock.time() + grant["expires_in"]
        token = AccessToken(
            grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
        )
        await services.tokens.save(user.id, token)
        if len(issued) < api_tokens:
            issued.append(await services.sessions.issue(user.id, "api"))
    return issued


def serve_apis(
    log_dir: Path, env: dict[str, str], count: int, started: list[subprocess.Popen[bytes]]
) -> list[int]:
    """`count` `backbeat serve` processes (added to `started`, for the caller to stop), once
    they answer: their ports."""
    ports = [free_port() for _ in range(count)]
    processes = [start(log_dir, env, "serve", f"--port={port}") for port in ports]
    started.extend(processes)
    for process, port in zip(processes, ports, strict=True):
        wait_until_up(f"http://127.0.0.1:{port}/health/live", process)
    return ports


def start(log_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`backbeat ARGS…` in the background, its output in a log of its own under `log_dir`."""
    with (log_dir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log").open("wb") as log:
        return subprocess.Popen(
            [*backbeat_command(), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def scrape(port: int) -> list[Metric]:
    """A process's metric families, from its /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return list(text_string_to_metric_families(text))


def counted(families: list[Metric], name: str, *labels: str) -> dict[tuple[str, ...], int]:
    """Counter `name`'s totals summed by the values of `labels` (none: one grand total)."""
    totals: dict[tuple[str, ...], float] = {}
    for family in families:
        if family.name == name:
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = tuple(sample.labels.get(label, "") for label in labels)
                    totals[key] = totals.get(key, 0.0) + sample.value
    return {key: int(value) for key, value in totals.items()}


def asked(port: int) -> int:
    """`backbeat_upstream_requests_total` of a process: calls asked, before cache and sharing."""
    return sum(counted(scrape(port), "backbeat_upstream_requests").values())


def drop_keys(url: str, *patterns: str) -> None:
    """Every key of `url` whose name contains one of `patterns`."""
    with redis.Redis.from_url(url) as client:
        found = (client.scan_iter(match=f"*{pattern}*", count=1000) for pattern in patterns)
        keys = list(dict.fromkeys(itertools.chain.from_iterable(found)))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
