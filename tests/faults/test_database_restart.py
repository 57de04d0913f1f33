"""Postgres stopped under a running deployment, then started again.

A private Postgres cluster (its own data directory and port, so the shared server is never
touched), the simulator and backbeat's API as real HTTP servers with their embedded job
consumers. Jobs are mid-write when the database goes away, others come due during the outage.
While it is down, readiness says which dependency failed and every API request is a 503 with
a JSON body and `Retry-After` — never a 500; once it is back, the same requests succeed and
every job completes, none lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from glob import glob
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI
from huey.signals import SIGNAL_ERROR, SIGNAL_RETRYING  # type: ignore[import-untyped]
from sqlalchemy import exc as sa
from sqlalchemy import func, select

from backbeat.api import create_app
from backbeat.api.errors import install_error_handlers
from backbeat.clock import FakeClock
from backbeat.config import (
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.db.models import ListeningSnapshot, User
from backbeat.db.upsert import upsert
from backbeat.domain.services import open_services
from backbeat.jobs import JobKind, JobRecord, JobStatus, Reaper
from backbeat.jobs.host import embedded_jobs
from backbeat.jobs.runtime import Contribution, JobContext, JobRuntime
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer, free_port
from tests.conftest import REQUIRE_SERVICES
from tests.faults.report import Finding

pytestmark = pytest.mark.faults

KIND = "outage_write"
WRITE_DATE = date(2026, 12, 3)
GATED, DUE_DURING = 3, 3  # jobs writing when the database stops; jobs that come due meanwhile
ORGANIZER_SETTINGS = {"enabled": True, "by_language": True, "by_genre": False}


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


class PrivateCluster:
    """A Postgres cluster of this test's own: `start()`, `stop()` (fast shutdown: clients are
    disconnected), `start()` again. Run as `postgres` when the test runs as root, since initdb
    refuses root."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = port

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = "no Postgres binaries (initdb, pg_ctl) for a private cluster"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="backbeat-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")  # the server's user owns its directory
    server = PrivateCluster(bin_dir, root, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def outage_plugin(context: JobContext) -> Contribution:
    """A job that writes like an ingest (an upsert of its user's snapshot), optionally only
    once the file `payload["gate"]` exists — so the test decides when its write happens."""

    async def write(job: JobRecord) -> dict[str, Any]:
        gate = job.payload.get("gate")
        if gate is not None:
            # The test's signal, across loops and threads: a file, polled (no time window).
            while not await asyncio.to_thread(Path(gate).exists):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with context.database.sessions() as session, session.begin():
            await upsert(
                session,
                ListeningSnapshot,
                {
                    "user_id": job.user_id,
                    "snapshot_date": WRITE_DATE,
                    "time_range": "short_term",
                    "track_count": job.attempts,
                },
                key=("user_id", "snapshot_date", "time_range"),
            )
        return {"attempt": job.attempts}

    return Contribution(kinds=[JobKind(KIND, "default", write, per_user=False)])


def deployment_settings(tmp_path: Path, database_url: str, sim_url: str, api: str) -> Settings:
    return Settings(
        environment="test",
        redis_url=None,
        database=DatabaseSettings(url=database_url, pool_timeout=5),
        security=SecuritySettings(token_keys=["Wp9rmoPBUwhG0VjU2v0v7Rr3oBZJcIP2yZVfI1I0cGQ="]),
        auth=AuthSettings(
            session_secret="restart-secret",
            redirect_uri=f"{api}/auth/callback",
            cookie_secure=False,
        ),
        spotify=SpotifySettings(api_url=f"{sim_url}/v1", accounts_url=sim_url),
        reccobeats=ReccoBeatsSettings(url=f"{sim_url}/reccobeats"),
        jobs=JobsSettings(
            var_dir=str(tmp_path / "var"),
            poll_max_delay=0.05,
            heartbeat_interval=1.0,
            inter_user_delay=0,
            workers={"spotify": 2, "default": 8, "leaderboard": 1, "insights": 1},
        ),
    )


async def statuses(runtime: JobRuntime, ids: list[str]) -> list[JobStatus]:
    found = [await runtime.store.get(job_id) for job_id in ids]
    return [job.status for job in found if job is not None]


async def refused_connection() -> None:
    connection = await asyncpg.connect(host="127.0.0.1", port=free_port(), user="postgres")
    await connection.close()


def missing_file() -> None:  # a plain route: FastAPI runs it on a thread
    Path("/nonexistent/backbeat").read_text()


def raiser(error: Exception) -> Callable[[], Awaitable[None]]:
    async def fail() -> None:
        raise error

    return fail


@pytest.mark.parametrize(
    ("fail", "status"),
    [
        (refused_connection, 503),  # what a stopped Postgres looks like to asyncpg
        (raiser(asyncpg.CannotConnectNowError("the database system is starting up")), 503),
        (raiser(asyncpg.ConnectionDoesNotExistError("connection was closed")), 503),
        (raiser(sa.OperationalError("SELECT 1", {}, Exception("database is locked"))), 503),
        (raiser(sa.InterfaceError("SELECT 1", {}, Exception("connection is closed"))), 503),
        (raiser(sa.TimeoutError("QueuePool limit of size 5 overflow 10 reached")), 503),
        (raiser(sa.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))), 500),
        (missing_file, 500),  # an OSError that is not the database's
    ],
)
async def test_database_errors_are_503_with_retry_after_others_a_json_500(
    fail: Callable[[], object], status: int
) -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_api_route("/fail", fail)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/fail")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status
    if status == 503:
        assert error == {
            "status": 503,
            "message": "the database is unavailable; retry shortly",
            "service": "database",
        }
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert error["message"] == "internal error"  # nothing of the SQL or its parameters


@pytest.mark.services
async def test_postgres_restart_mid_run_is_503_then_recovers_and_loses_no_job(
    tmp_path: Path, cluster: PrivateCluster, reliability: list[Finding]
) -> None:
    started = time.monotonic()
    gate = tmp_path / "gate"
    huey_events: Counter[str] = Counter()
    events_lock = threading.Lock()
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    with BackgroundServer(create_simulator(SimulatorSettings(artists=20, users=10))) as sim:
        settings = deployment_settings(tmp_path, cluster.url, sim.url, api)
        app = create_app(settings, plugins=[outage_plugin])
        with BackgroundServer(app, port=port):
            # The API's own consumers: count what Huey did with failed `run_job` calls.
            server_runtime: JobRuntime = app.state.jobs
            huey = server_runtime.queues.huey("default")

            def count(signal: str, task: Any, exc: BaseException | None = None) -> None:
                with events_lock:
                    huey_events[signal] += 1

            huey.signal(SIGNAL_ERROR, SIGNAL_RETRYING)(count)

            async with (
                httpx.AsyncClient(base_url=api, follow_redirects=True, timeout=15) as alice,
                open_services(settings) as services,
                embedded_jobs(services, consumers=False, plugins=[outage_plugin]) as runtime,
            ):
                login = await alice.get("/auth/login")
                assert login.status_code == 200, login.text
                task_of_alice = (
                    await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
                ).json()["task_id"]

                users = [User(spotify_id=f"restart-{n}") for n in range(GATED + DUE_DURING)]
                async with services.database.sessions() as session, session.begin():
                    session.add_all(users)
                gated = [
                    (
                        await runtime.enqueuer.enqueue(
                            KIND, {"gate": str(gate)}, user_id=user.id, dedupe=False
                        )
                    ).job.id
                    for user in users[:GATED]
                ]
                deadline = time.monotonic() + 20
                while await statuses(runtime, gated) != [JobStatus.RUNNING] * GATED:
                    assert time.monotonic() < deadline, await statuses(runtime, gated)
                    await asyncio.sleep(0.05)
                # Due two seconds from now: their messages arrive while the database is down.
                due_at = datetime.now(UTC) + timedelta(seconds=2)
                due = [
                    (
                        await runtime.enqueuer.enqueue(
                            KIND, {}, user_id=user.id, dedupe=False, run_at=due_at
                        )
                    ).job.id
                    for user in users[GATED:]
                ]

                # The fault: Postgres stops (fast shutdown) with jobs writing and jobs due.
                await asyncio.to_thread(cluster.stop)
                down_at = time.monotonic()
                gate.touch()  # the gated jobs write now, into a stopped database

                during: Counter[int] = Counter()
                bad_bodies: list[str] = []
                health_bodies: list[dict[str, Any]] = []
                live: Counter[int] = Counter()
                requests = [
                    ("GET", "/api/users/me", None),
                    ("GET", f"/api/tasks/{task_of_alice}", None),
                    ("GET", "/api/listening/snapshots", None),
                    ("GET", "/api/organizer/settings", None),
                    ("PUT", "/api/organizer/settings", ORGANIZER_SETTINGS),
                ]
                # Keep asking until every due job's message was tried and failed (Huey's error
                # signal, once per failed run_job), and for at least four seconds.
                deadline = time.monotonic() + 25
                while True:
                    with events_lock:
                        errors = huey_events[SIGNAL_ERROR]
                    if errors >= GATED + DUE_DURING and time.monotonic() - down_at >= 4:
                        break
                    assert time.monotonic() < deadline, dict(huey_events)
                    health = await alice.get("/health")
                    assert health.status_code == 503, health.text
                    assert health.headers["retry-after"]
                    health_bodies.append(health.json())
                    live[(await alice.get("/health/live")).status_code] += 1
                    for method, path, body in requests:
                        response = await alice.request(method, path, json=body)
                        during[response.status_code] += 1
                        try:
                            error = response.json()["error"]
                            ok = (
                                response.status_code == 503
                                and error["status"] == 503
                                and error["service"] == "database"
                                and int(response.headers["retry-after"]) >= 1
                            )
                        except (ValueError, KeyError, TypeError):
                            ok = False
                        if not ok:
                            bad_bodies.append(
                                f"{method} {path}: {response.status_code} {response.text}"
                            )
                    await asyncio.sleep(0.2)  # a client's retry pace, not a rate window

                # Postgres comes back.
                await asyncio.to_thread(cluster.start)
                outage = time.monotonic() - down_at
                after: Counter[int] = Counter()
                health = await alice.get("/health")
                assert health.status_code == 200, health.text
                for method, path, body in requests:
                    response = await alice.request(method, path, json=body)
                    after[response.status_code] += 1
                    assert response.status_code in (200, 202), (path, response.text)

                # Jobs whose failure could not even be recorded are still `running`, their
                # heartbeat stopped: the reaper's periodic pass, once that heartbeat is stale
                # (`stale_after` later: a fake clock), gives them back.
                everything = [task_of_alice, *gated, *due]
                before_reaper = Counter(await statuses(runtime, everything))
                later = FakeClock(start=time.time() + settings.jobs.stale_after + 1)
                reaper = Reaper.from_settings(
                    settings.jobs, runtime.store, runtime.queues, clock=later
                )
                reaped = await reaper.run_once()
                # The due jobs: Huey retries their `run_job` 30 s after it failed.
                deadline = time.monotonic() + 45
                while set(await statuses(runtime, everything)) != {JobStatus.SUCCEEDED}:
                    assert time.monotonic() < deadline, await statuses(runtime, everything)
                    await asyncio.sleep(0.2)  # polling the rows
                jobs = [await runtime.store.get(job_id) for job_id in everything]
                async with services.database.sessions() as session:
                    written = await session.scalar(
                        select(func.count(ListeningSnapshot.id)).where(
                            ListeningSnapshot.snapshot_date == WRITE_DATE
                        )
                    )
    elapsed = time.monotonic() - started

    assert not bad_bodies, bad_bodies[:5]
    assert set(during) == {503}
    assert 500 not in during
    assert set(live) == {200}  # liveness: the process itself is fine
    assert all(
        str(body["checks"]["database"]).startswith("unavailable")
        and body["status"] == "unavailable"
        for body in health_bodies
    )
    assert {job.status for job in jobs if job is not None} == {JobStatus.SUCCEEDED}
    assert written == GATED + DUE_DURING  # one row per job: the writes are upserts
    reliability.append(
        Finding(
            fault="Postgres restarted mid-run",
            injected=(
                f"`pg_ctl stop -m fast` of the database (a private cluster) under the API with "
                f"embedded consumers: {GATED} jobs were about to write, {DUE_DURING} came due "
                f"during the outage; restarted after {outage:.1f} s."
            ),
            observed={
                "API responses during the outage, by status": dict(during),
                "/health during the outage": f"{len(health_bodies)}× 503 "
                f"(database: {health_bodies[0]['checks']['database']})",
                "/health/live during the outage": dict(live),
                "API responses after the restart, by status": dict(after),
                "Huey run_job errors / retries scheduled": [
                    huey_events[SIGNAL_ERROR],
                    huey_events[SIGNAL_RETRYING],
                ],
                "job states right after the restart": {
                    str(status): n for status, n in before_reaper.items()
                },
                "jobs given back by the reaper (stuck running)": len(reaped),
                "jobs succeeded after the restart": sum(
                    job is not None and job.status is JobStatus.SUCCEEDED for job in jobs
                ),
                "attempts per job": sorted(job.attempts for job in jobs if job is not None),
                "snapshots written (one per job)": written,
                "test seconds": round(elapsed, 1),
            },
        )
    )
