"""Jobs across real processes: `backbeat serve` picking up what a stopped process queued, a
`backbeat worker` killed with SIGKILL mid-job, and one scheduler among several.

The processes load the probe job kind (`tests/jobs/probe.py`) through the plugin setting; the
test process shares their database and queues through the same settings (environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy import func, select

from backbeat.clock import FakeClock
from backbeat.config import Settings
from backbeat.db.engine import Database
from backbeat.db.models import BackgroundJob, ListeningSnapshot, User
from backbeat.domain.services import migrated_database, open_services
from backbeat.jobs import JobStatus, Reaper
from backbeat.jobs.host import embedded_jobs
from backbeat.simulator.server import free_port
from tests.jobs.fakes import eventually

ROOT = Path(__file__).resolve().parents[2]
BACKBEAT = str(Path(sys.executable).parent / "backbeat")


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_key: str) -> dict[str, str]:
    """Settings shared by this process (via its environment) and the ones it starts."""
    values = {
        "BACKBEAT_ENVIRONMENT": "test",
        "BACKBEAT_SECURITY__TOKEN_KEYS": token_key,
        "BACKBEAT_AUTH__SESSION_SECRET": "processes-test-secret",
        "BACKBEAT_DATABASE__URL": f"sqlite:///{tmp_path / 'backbeat.db'}",
        "BACKBEAT_JOBS__VAR_DIR": str(tmp_path / "var"),
        "BACKBEAT_JOBS__PREFIX": f"bbproc_{uuid.uuid4().hex[:8]}",
        "BACKBEAT_JOBS__PLUGINS": '["tests.jobs.probe:contribute"]',
        "BACKBEAT_JOBS__INTER_USER_DELAY": "0",
        "BACKBEAT_JOBS__POLL_MAX_DELAY": "0.1",
    }
    for name in ("BACKBEAT_REDIS_URL", "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def start(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`backbeat *args` in `tmp_path`, its output in `<command>-<pid>.log` there."""
    path = tmp_path / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
    with path.open("wb") as log:
        process = subprocess.Popen(
            [BACKBEAT, *args],
            cwd=tmp_path,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    path.rename(tmp_path / f"{args[0]}-{process.pid}.log")
    return process


def output(tmp_path: Path, command: str) -> str:
    return "".join(log.read_text() for log in sorted(tmp_path.glob(f"{command}-*.log")))


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager stops it; the exit code once it has shut down."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def wait_for_leaders(tmp_path: Path, count: int, within: float = 30.0) -> list[int]:
    """The pids of the schedulers that got elected, in the order they were, once there are
    `count` elections (and no more)."""
    deadline = time.monotonic() + within
    while True:
        elected = sorted(
            (line[:23], int(log.stem.split("-")[1]))
            for log in tmp_path.glob("scheduler-*.log")
            for line in log.read_text().splitlines()
            if "elected leader" in line
        )
        if len(elected) >= count or time.monotonic() > deadline:
            assert len(elected) == count, output(tmp_path, "scheduler")
            return [pid for _, pid in elected]
        time.sleep(0.1)  # polling the processes' logs


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_users(database: Database, count: int) -> list[str]:
    users = [User(spotify_id=f"listener-{n}") for n in range(count)]
    async with database.sessions() as session, session.begin():
        session.add_all(users)
    return [user.id for user in users]


async def count(database: Database, query: object) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


def executions(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [(job, int(attempt)) for job, attempt in map(str.split, log.read_text().splitlines())]


async def test_embedded_restart_runs_each_queued_job_exactly_once(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    settings = Settings()
    runs = tmp_path / "runs.log"
    # The first process queues 100 jobs and stops before any of them runs.
    async with open_services(settings) as services:
        users = await add_users(services.database, 100)
        tokens = [await services.sessions.issue(user, "api") for user in users]
        async with embedded_jobs(services, consumers=False) as jobs:
            queued = [
                (await jobs.enqueuer.enqueue("probe", {"log": str(runs)}, user_id=user)).job.id
                for user in users
            ]
    assert not runs.exists()

    # The next one — the API server with its embedded consumers — finds them in var/.
    port = free_port()
    server = start(tmp_path, "serve", "--port", str(port))
    try:
        async with migrated_database(settings) as database:
            succeeded = select(func.count()).where(BackgroundJob.status == "succeeded")

            async def all_done() -> bool:
                return await count(database, succeeded) == 100

            await eventually(all_done, within=90)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                tasks = [
                    (await client.get(f"/api/tasks/{job}", headers=bearer(token))).json()
                    for job, token in zip(queued, tokens, strict=True)
                ]
            snapshots = await count(database, select(func.count(ListeningSnapshot.id)))
    finally:
        # Uvicorn shuts down gracefully, then exits by the signal it was stopped with.
        assert stop(server) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in output(tmp_path, "serve")
    assert {task["status"] for task in tasks} == {"succeeded"}
    assert {task["attempts"] for task in tasks} == {1}
    assert sorted(executions(runs)) == sorted((job, 1) for job in queued)  # each ran once
    assert snapshots == 100


async def test_a_worker_killed_mid_job_is_reaped_and_the_write_lands_once(
    tmp_path: Path,
    environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    postgres_database: str,
) -> None:
    monkeypatch.setenv("BACKBEAT_REDIS_URL", redis_url)
    monkeypatch.setenv("BACKBEAT_DATABASE__URL", postgres_database)
    settings = Settings()
    runs = tmp_path / "runs.log"
    async with (
        open_services(settings) as services,
        embedded_jobs(services, consumers=False) as jobs,
    ):
        database = services.database
        try:
            (user,) = await add_users(database, 1)
            doomed = start(tmp_path, "worker", "--queues", "default", "--workers", "1")
            payload = {"log": str(runs), "hold_first": 600}
            job = (await jobs.enqueuer.enqueue("probe", payload, user_id=user)).job

            async def started() -> bool:
                return len(executions(runs)) == 1

            await eventually(started, within=60)  # it has written and now holds
            doomed.send_signal(signal.SIGKILL)
            assert doomed.wait(timeout=10) == -signal.SIGKILL
            orphan = await jobs.store.get(job.id)
            assert orphan is not None
            assert (orphan.status, orphan.attempts) == (JobStatus.RUNNING, 1)

            survivor = start(tmp_path, "worker", "--queues", "default")
            try:
                # The reaper, some minutes later: the dead worker's heartbeat has gone stale.
                later = FakeClock(start=time.time() + settings.jobs.stale_after + 60)
                reaper = Reaper.from_settings(settings.jobs, jobs.store, jobs.queues, clock=later)
                assert [stale.id for stale in await reaper.run_once()] == [job.id]

                async def done() -> bool:
                    row = await jobs.store.get(job.id)
                    return row is not None and row.status is JobStatus.SUCCEEDED

                await eventually(done, within=60)
            finally:
                assert stop(survivor) == 0
            finished = await jobs.store.get(job.id)
            snapshots = select(ListeningSnapshot.track_count).where(
                ListeningSnapshot.user_id == user
            )
            async with database.sessions() as session:
                written = list(await session.scalars(snapshots))
        finally:
            jobs.queues.flush()
            await drop_keys(redis_url, environment["BACKBEAT_JOBS__PREFIX"])
    assert executions(runs) == [(job.id, 1), (job.id, 2)]  # killed once, run again
    assert finished is not None
    assert (finished.attempts, finished.result) == (2, {"user": user, "attempt": 2})
    assert written == [2]  # one row: the second run updated what the first wrote


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_dies(
    tmp_path: Path, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv("BACKBEAT_REDIS_URL", redis_url)
    monkeypatch.setenv("BACKBEAT_JOBS__SCHEDULER_LEASE_TTL", "1.5")  # renewed every 0.5 s
    first = start(tmp_path, "scheduler")
    second = start(tmp_path, "scheduler")
    schedulers = {first.pid: first, second.pid: second}
    try:
        leader = wait_for_leaders(tmp_path, 1)[0]
        schedulers.pop(leader).send_signal(signal.SIGKILL)
        (standby,) = schedulers.values()
        assert wait_for_leaders(tmp_path, 2)[1] == standby.pid  # once the lease ran out
        assert stop(standby) == 0
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
                process.wait()
        redis_client = redis.Redis.from_url(redis_url)
        redis_client.delete(f"{environment['BACKBEAT_JOBS__PREFIX']}:scheduler:leader")
        redis_client.close()


async def drop_keys(redis_url: str, prefix: str) -> None:
    """The workers' shared user limit leaves keys under the run's prefix (they would expire)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"*{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()
