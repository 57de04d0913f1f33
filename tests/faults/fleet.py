"""What the fault tests deploy, as a deployment would: a time-scaled simulator, `backbeat worker`
processes and private `redis-server`s as real processes (optionally inside network namespaces),
the settings every process shares as environment variables, N simulated users logged in, and the
daily listening scan fired as the scheduler would fire it.

The test process plays the scheduler: it fires the scan and runs the reaper's pass every
`REAP_EVERY` seconds (the cron task does so every minute at the earliest, too slow for a test).
`python -m tests.faults.fleet drive` is a process that only calls the simulator through
backbeat's upstream client, as fast as the shared limiter lets it (the multi-host test's load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from backbeat.config import RateLimitSettings, Settings
from backbeat.db.engine import Database
from backbeat.db.models import BackgroundJob, ListeningSnapshot
from backbeat.domain.services import Services
from backbeat.jobs import JobStatus
from backbeat.jobs.runtime import JobRuntime, scan_rate
from backbeat.jobs.tasks.listening import INGEST, ingest_key
from backbeat.ratelimit import Priority, Rate, SlotTimeout
from backbeat.simulator.consent import consent
from backbeat.simulator.server import free_port
from backbeat.spotify.auth import AccessToken
from backbeat.upstream.call import Request
from backbeat.upstream.stack import UpstreamStack

ROOT = Path(__file__).resolve().parents[2]
BACKBEAT = str(Path(sys.executable).parent / "backbeat")
# The simulated app's limit is Spotify's read default (80 per rolling 30 s), one window over all
# its calls; backbeat is given that window for every call and for each class (its default batch
# window, 20, would bind first and slow the scan for nothing), time-scaled like the simulator.
LIMIT = Rate.parse(RateLimitSettings().spotify_read)
# Calls of one user's short_term ingest: top tracks, top artists, recently played, one batch
# of audio features, one of missing artists (sometimes two). The fan-out spreads users by it.
CALLS_PER_USER = 5
TOP_ITEMS_PER_USER = 2  # top tracks and top artists: calls no cache answers across users
# Real seconds added to backbeat's windows (default 0.25): the delay between a grant and the
# call's arrival, which on a shared 2-core machine under load reaches a few hundred milliseconds
# and does not shrink with the time scale.
MARGIN = 0.5
REAP_EVERY = 0.5  # seconds between two reaper passes of the test (the scheduler's minute)
READY = "drive: ready"  # a driver printed it: connected, warmed up, waiting for the start
LONG_TOKENS = 10**9  # simulated seconds: no access token expires during a test


def deployment_env(
    *,
    tmp_path: Path,
    sim_url: str,
    redis_url: str,
    database_url: str,
    client: tuple[str, str],
    scale: float,
    **jobs: str,
) -> dict[str, str]:
    """The settings of every process of one deployment, as its environment; `jobs` overrides
    `BACKBEAT_JOBS__<NAME>` values. Periods backbeat waits on are divided by `scale`, as the
    simulator's are; the job heartbeat and the reaper's limits are the test's to choose."""
    app = str(LIMIT)
    limits = RateLimitSettings(
        spotify_read=app, spotify_batch=app, spotify_shared=app, margin=MARGIN
    ).time_scaled(scale)
    values = {
        "BACKBEAT_ENVIRONMENT": "test",
        "BACKBEAT_REDIS_URL": redis_url,
        "BACKBEAT_DATABASE__URL": database_url,
        "BACKBEAT_SPOTIFY__CLIENT_ID": client[0],
        "BACKBEAT_SPOTIFY__CLIENT_SECRET": client[1],
        "BACKBEAT_SPOTIFY__API_URL": f"{sim_url}/v1",
        "BACKBEAT_SPOTIFY__ACCOUNTS_URL": sim_url,
        "BACKBEAT_RECCOBEATS__URL": f"{sim_url}/reccobeats",
        "BACKBEAT_RATELIMIT__SPOTIFY_READ": limits.spotify_read,
        "BACKBEAT_RATELIMIT__SPOTIFY_WRITE": limits.spotify_write,
        "BACKBEAT_RATELIMIT__SPOTIFY_BATCH": limits.spotify_batch,
        "BACKBEAT_RATELIMIT__SPOTIFY_SHARED": str(limits.spotify_shared),
        "BACKBEAT_RATELIMIT__MARGIN": str(MARGIN),
        # Each process's own response cache: a job run again elsewhere calls upstream again,
        # and runs before this test (same catalog seed) leave nothing to find in Redis.
        "BACKBEAT_CACHE__URL": "mem://",
        "BACKBEAT_SECURITY__TOKEN_KEYS": Fernet.generate_key().decode(),
        "BACKBEAT_AUTH__SESSION_SECRET": uuid.uuid4().hex,
        "BACKBEAT_JOBS__VAR_DIR": str(tmp_path / "var"),
        "BACKBEAT_JOBS__RETRY_DELAYS": json.dumps([d / scale for d in (120, 240, 480)]),
        "BACKBEAT_JOBS__BAN_JITTER": str(60 / scale),
        "BACKBEAT_JOBS__INTER_USER_DELAY": "0",
        "BACKBEAT_JOBS__POLL_MAX_DELAY": "0.1",
        # Jobs start as fast as the whole budget allows: the fan-out at the limiter's pace.
        "BACKBEAT_JOBS__SCAN_CALLS_PER_USER": str(CALLS_PER_USER),
        "BACKBEAT_JOBS__SCAN_BUDGET_SHARE": "1",
    }
    values |= {f"BACKBEAT_JOBS__{name.upper()}": value for name, value in jobs.items()}
    return values


class Fleet:
    """The processes one test started, each logging to `<name>-<pid>.log` under `log_dir`, with
    the test's environment; `close()` ends the ones still running (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def start(
        self,
        *command: str,
        netns: str | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `command` (in `netns`, with `env` over the test's environment); its log is
        `<name>-<pid>.log`, the name by default the command's (`backbeat`'s subcommand)."""
        argv = [*(["ip", "netns", "exec", netns] if netns else []), *command]
        name = name or (command[1] if command[0] == BACKBEAT else Path(command[0]).name)
        path = self.log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        environment = os.environ | {"PYTHONPATH": str(ROOT)} | dict(env or {})
        # Start-up as deployed, from cached bytecode: compiling every module again in each
        # process costs seconds of CPU per start on a small machine.
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        with path.open("wb") as log:
            process = subprocess.Popen(
                argv, cwd=self.log_dir, env=environment, stdout=log, stderr=subprocess.STDOUT
            )
        self.logs[process.pid] = path.rename(self.log_dir / f"{name}-{process.pid}.log")
        self.processes.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[process.pid].read_text()

    def worker(self, queues: str = "spotify", netns: str | None = None) -> subprocess.Popen[bytes]:
        return self.start(BACKBEAT, "worker", "--queues", queues, netns=netns)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no shutdown, no last heartbeat, messages in hand lost."""
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def output(self, name: str) -> str:
        return "".join(log.read_text() for log in sorted(self.log_dir.glob(f"{name}-*.log")))

    def close(self) -> None:
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def fleet(log_dir: Path) -> Iterator[Fleet]:
    started = Fleet(log_dir)
    try:
        yield started
    finally:
        started.close()


@dataclass(frozen=True, slots=True)
class Simulator:
    """A simulator process, as the test reaches it."""

    url: str
    client: tuple[str, str]

    def stats(self) -> dict[str, Any]:
        """The simulator's counts for this app: requests, http_429, max_in_window, limit, …"""
        apps: dict[str, Any] = httpx.get(f"{self.url}/_sim/stats", timeout=30).json()["apps"]
        return dict(apps.get(self.client[0], {}))

    def admitted(self) -> list[float]:
        """When each call of the app was admitted, on the machine's monotonic clock (the
        simulator's enforcer reads `time.monotonic()`, the same clock in every process)."""
        answer = httpx.get(f"{self.url}/_sim/timeline/{self.client[0]}", timeout=30)
        return sorted(answer.json()["admitted_at"])


def start_simulator(
    processes: Fleet,
    *,
    users: int,
    scale: float,
    client: tuple[str, str],
    host: str = "127.0.0.1",
    netns: str | None = None,
) -> Simulator:
    """A simulator process at time scale `scale`, limit `LIMIT`, the app `client` registered."""
    port = free_port()
    env = {"BACKBEAT_SIMULATOR__TOKEN_EXPIRY": str(LONG_TOKENS)}
    process = processes.start(
        BACKBEAT,
        "simulator",
        "serve",
        f"--host={'0.0.0.0' if netns else host}",  # in its own namespace: all of its links
        f"--port={port}",
        f"--users={max(users, 20)}",
        f"--time-scale={scale:g}",
        f"--limit={LIMIT.limit}",
        f"--window={LIMIT.period:g}",
        f"--register-app={client[0]}:{client[1]}",
        netns=netns,
        env=env,
    )
    url = f"http://{host}:{port}"
    wait_until(lambda: _answers(f"{url}/_sim/health"), process, what=url)
    return Simulator(url, client)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    what: str,
    within: float = 60.0,
) -> None:
    """Poll `ready()` until it is true; fail early if `process` exited."""
    deadline = time.monotonic() + within
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: {process.args!r} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not up within {within:g} s")
        time.sleep(0.1)  # polling a starting process


def require_redis_server() -> None:
    """Skip without a `redis-server` binary for a private Redis; fail when CI said it must be
    there (`BACKBEAT_REQUIRE_SERVICES=1`)."""
    import pytest

    from tests.conftest import REQUIRE_SERVICES

    if shutil.which("redis-server") is None:
        message = "no redis-server binary for a private Redis"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


class PrivateRedis:
    """A `redis-server` of this test's own, without persistence: killing it loses every key,
    and `start()` again on the same port brings back an empty server."""

    def __init__(
        self,
        processes: Fleet,
        *,
        host: str = "127.0.0.1",
        bind: str | None = None,
        netns: str | None = None,
    ) -> None:
        """`host`: where this process reaches it; `bind`: where it listens (default `host`)."""
        self.processes = processes
        self.host = host
        self.bind = bind or host
        self.netns = netns
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        self.process = self.processes.start(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.bind,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            netns=self.netns,
        )
        wait_until(self._pings, self.process, what=self.url)

    def kill(self) -> None:
        assert self.process is not None
        self.processes.kill(self.process)

    def _pings(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False


@dataclass(frozen=True, slots=True)
class Host:
    """A machine of the star network: its namespace, and the two ends of its link to the hub."""

    netns: str
    address: str  # this host's end
    hub: str  # the hub's end: where this host reaches the services


@dataclass(frozen=True, slots=True)
class Star:
    hub: str  # the services' namespace
    test_side: Host  # the test's own link to the hub (`netns` is "", the root namespace)
    hosts: list[Host]


class NetnsUnavailable(Exception):
    """Network namespaces cannot be made here (no `ip`, no privilege)."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextmanager
def star_network(hosts: int) -> Iterator[Star]:
    """Network namespaces as separate machines: a hub (for the services) linked by a veth pair
    of its own to each of `hosts` namespaces and to the test's namespace, one /30 per link. No
    routing or bridging is needed (every host only talks to the hub), so nothing of the machine's
    own network changes. Removed on the way out. Raises `NetnsUnavailable` when namespaces
    cannot be made (no `ip`, no privilege)."""
    tag = uuid.uuid4().hex[:6]
    hub = f"bb{tag}hub"
    names = [f"bb{tag}h{i}" for i in range(hosts)]
    made: list[str] = []
    try:
        try:
            _ip("netns", "add", hub)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            raise NetnsUnavailable(f"ip netns add: {error} {detail.decode().strip()}") from error
        made.append(hub)
        for name in names:
            _ip("netns", "add", name)
            made.append(name)
        for name in made:
            _ip("-n", name, "link", "set", "lo", "up")
        subnet = _free_subnet()
        links: list[Host] = []
        for i, name in enumerate(["", *names]):  # link 0: the test's namespace
            outer, inner = f"bb{tag}v{i}a", f"bb{tag}v{i}b"
            hub_address, host_address = f"{subnet}.{4 * i + 1}", f"{subnet}.{4 * i + 2}"
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", outer, "netns", hub)
            _ip("-n", hub, "addr", "add", f"{hub_address}/30", "dev", outer)
            _ip("-n", hub, "link", "set", outer, "up")
            where = ["-n", name] if name else []
            if name:
                _ip("link", "set", inner, "netns", name)
            _ip(*where, "addr", "add", f"{host_address}/30", "dev", inner)
            _ip(*where, "link", "set", inner, "up")
            links.append(Host(name, host_address, hub_address))
        yield Star(hub, links[0], links[1:])
    finally:
        # The root namespace's veth end goes with its peer in the hub.
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _free_subnet() -> str:
    """A 10.213.X.0/24 no address of this machine is in (the test's link lives in it)."""
    shown = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=True)
    for third in random.sample(range(256), 256):
        prefix = f"10.213.{third}"
        if f" {prefix}." not in shown.stdout:
            return prefix
    raise NetnsUnavailable("no free 10.213.X.0/24 on this machine")


def drop_keys(redis_url: str, *patterns: str) -> None:
    """Remove what one test left in a shared Redis (never FLUSHDB: other tests use it)."""
    with redis.Redis.from_url(redis_url) as client:
        for pattern in patterns:
            keys = list(client.scan_iter(match=f"*{pattern}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])


async def log_in(services: Services, sim_url: str, client: tuple[str, str], count: int) -> None:
    """`count` simulated users consent to the app; backbeat stores their tokens, as its login
    callback would."""
    scopes = services.settings.auth.scopes
    async with httpx.AsyncClient(base_url=sim_url, timeout=30) as sim:
        gate = asyncio.Semaphore(8)

        async def one(n: int) -> None:
            name = f"user{n:04d}"
            async with gate:
                grant = await consent(sim, name, client, scopes)
                user = await services.users.find_or_create(name, display_name=name)
                expires = services.clock.time() + grant["expires_in"]
                token = AccessToken(
                    grant["access_token"], expires, grant["refresh_token"], grant.get("scope", "")
                )
                await services.tokens.save(user.id, token)

        await asyncio.gather(*(one(n) for n in range(count)))


async def fire_daily_scan(
    services: Services, runtime: JobRuntime, time_ranges: Sequence[str] = ("short_term",)
) -> list[str]:
    """The 02:00 listening scan as `ingest_all_users` fans it out — one job per user, spread
    over the window the budget needs, one active job per user — for `time_ranges` (the cron
    asks for all three; one is a third of the calls, so hundreds of users fit in a test).
    Returns the job ids."""
    settings = services.settings
    ranges = list(time_ranges)
    enqueued = await runtime.enqueuer.enqueue_batch(
        await services.users.all_ids(),
        INGEST,
        calls_per_job=settings.jobs.scan_calls_per_user,
        rate_per_second=scan_rate(settings),
        payload={"time_ranges": ranges},
        priority=Priority.NORMAL,
        dedupe=lambda user: ingest_key(user, ranges),
    )
    assert all(result.created for result in enqueued)
    return [result.job.id for result in enqueued]


@dataclass
class Reaping:
    """What the reaper's passes gave back: jobs of dead workers (stale heartbeat) and waiting
    jobs whose message was lost (overdue), by job id."""

    stale: Counter[str] = field(default_factory=Counter)
    resent: Counter[str] = field(default_factory=Counter)
    failed_passes: int = 0  # passes cut short by a send that failed (Redis down)

    async def pass_once(self, runtime: JobRuntime) -> None:
        try:
            found = await runtime.reaper.run_once()
        except (redis.RedisError, OSError):
            # As the cron task would: the pass fails and is logged; the rows it moved are
            # waiting jobs, which the next pass finds overdue and sends again.
            self.failed_passes += 1
            return
        for job in found:
            # The reaper returns the stale jobs as found (running), resent ones as re-queued.
            (self.stale if job.status is JobStatus.RUNNING else self.resent)[job.id] += 1


async def until_finished(
    runtime: JobRuntime, total: int, reaping: Reaping, *, within: float
) -> dict[str, int]:
    """Job counts by status once `total` jobs have ended (succeeded or failed), running the
    reaper meanwhile; fails with the counts after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        counts = await runtime.store.counts()
        if counts["succeeded"] + counts["failed"] >= total:
            return counts
        assert time.monotonic() < deadline, f"scan not finished in {within:g} s: {counts}"
        await reaping.pass_once(runtime)
        await asyncio.sleep(REAP_EVERY)


async def until_succeeded(
    runtime: JobRuntime, at_least: int, reaping: Reaping, *, within: float
) -> None:
    """Poll until `at_least` jobs succeeded, running the reaper meanwhile."""
    deadline = time.monotonic() + within
    while (counts := await runtime.store.counts())["succeeded"] < at_least:
        assert time.monotonic() < deadline, counts
        await reaping.pass_once(runtime)
        await asyncio.sleep(REAP_EVERY)


async def snapshots_by_user(database: Database) -> Counter[str]:
    """Listening snapshots per user (every date and time range)."""
    query = select(ListeningSnapshot.user_id, func.count()).group_by(ListeningSnapshot.user_id)
    async with database.sessions() as session:
        return Counter({user: int(n) for user, n in (await session.execute(query)).all()})


async def snapshot_dates(database: Database) -> set[str]:
    query = select(ListeningSnapshot.snapshot_date).distinct()
    async with database.sessions() as session:
        return {day.isoformat() for day in await session.scalars(query)}


async def job_rows(database: Database) -> dict[str, tuple[str, int]]:
    """Every job's (status, attempts), by id."""
    query = select(BackgroundJob.id, BackgroundJob.status, BackgroundJob.attempts)
    async with database.sessions() as session:
        return {job: (status, attempts) for job, status, attempts in await session.execute(query)}


async def running_jobs(database: Database) -> set[str]:
    query = select(BackgroundJob.id).where(BackgroundJob.status == JobStatus.RUNNING.value)
    async with database.sessions() as session:
        return set(await session.scalars(query))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# --- `python -m tests.faults.fleet drive`: a process that only calls the upstream -------------


async def drive(
    settings: Settings, seconds: float, concurrency: int, start: Path | None, share: tuple[int, int]
) -> Any:
    """Single-artist look-ups through backbeat's upstream client (dedup, limiter, retries) at
    NORMAL priority from `concurrency` coroutines, as fast as the shared limiter allows, for
    `seconds` from when the file `start` exists (the test's start line, seen the same from any
    namespace). `artist` must not be cached (`cache.ttls`), so every call goes upstream; driver
    `share = (k, n)` takes every n-th artist from the k-th, so no two drivers share a call."""
    outcomes: Counter[str] = Counter()
    errors: dict[str, str] = {}
    async with UpstreamStack(settings) as stack:
        found: dict[str, None] = {}
        for letter in "aeio":
            page = (await stack.spotify.search(letter, ("artist",), limit=50)).artists
            found |= dict.fromkeys(artist.id for artist in page.items) if page else {}
        artists = sorted(found)[share[0] :: share[1]]
        assert len(artists) >= 2 * concurrency, f"too few artists to drive: {len(artists)}"
        print(READY, flush=True)
        if start is not None:
            await asyncio.to_thread(_wait_for, start)
        end = time.monotonic() + seconds
        sequence = iter(range(10**9))

        async def loop() -> None:
            while (left := end - time.monotonic()) > 0:
                artist = artists[next(sequence) % len(artists)]
                try:
                    request = Request("artist", f"/artists/{artist}", max_wait=left)
                    await stack.spotify_upstream.call(request)
                    outcomes["ok"] += 1
                except SlotTimeout:
                    outcomes["SlotTimeout"] += 1  # the next slot comes after the run's end
                    return
                except Exception as error:  # counted and reported: the test asserts on them
                    name = type(error).__name__
                    outcomes[name] += 1
                    errors.setdefault(name, str(error))

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        sent: Counter[str] = Counter()  # requests this process sent, by status
        for metric in stack.metrics.calls.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["endpoint"] == "artist":
                    sent[sample.labels["status"]] += int(sample.value)
    return {"calls": dict(outcomes), "sent": dict(sent), "errors": errors}


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.01)  # polling the start line: a file, seen alike from every namespace


def driven(output: str) -> dict[str, Any]:
    """What a `drive` process reported (its last line)."""
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.fleet")
    commands = parser.add_subparsers(dest="command", required=True)
    driving = commands.add_parser("drive", help="saturate the upstream for SECONDS")
    driving.add_argument("--seconds", type=float, required=True)
    driving.add_argument("--concurrency", type=int, default=16)
    driving.add_argument("--start-file", type=Path, help="start once this file exists")
    driving.add_argument("--share", default="0/1", help="K/N: every N-th artist from the K-th")
    arguments = parser.parse_args()
    index, _, of = arguments.share.partition("/")
    share = (int(index), int(of))
    settings = Settings()
    result = asyncio.run(
        drive(settings, arguments.seconds, arguments.concurrency, arguments.start_file, share)
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
