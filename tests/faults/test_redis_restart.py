"""Redis killed in the middle of the daily scan and started again empty.

A private `redis-server` (no persistence, its own port: the shared one is never touched) holds
everything shared: the Huey queues, the global limiter and the user limit. It is SIGKILLed a
third of the way through the scan and started again on the same port once every worker has
failed to reach it twice: the queued messages and the limiter's log are gone.

What must hold:
- the limiter fails closed: no call reaches the simulator while the store is down (beyond the
  calls already granted and in flight), and none is refused (0 × 429) — after the empty restart
  every process that knew the old run warms up at half the limit for one window;
- the scan finishes: jobs whose messages were lost wait in their rows, and the reaper's overdue
  pass sends them again; none is done twice (one snapshot per user).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from pathlib import Path

import pytest

from backbeat.config import Settings
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from tests.faults.fleet import (
    LIMIT,
    MARGIN,
    TOP_ITEMS_PER_USER,
    Fleet,
    PrivateRedis,
    Reaping,
    deployment_env,
    fire_daily_scan,
    fleet,
    job_rows,
    log_in,
    require_redis_server,
    snapshots_by_user,
    start_simulator,
    until_finished,
    until_succeeded,
)
from tests.faults.report import Finding

pytestmark = [pytest.mark.faults, pytest.mark.services]

LONG_USERS = 500
USERS = 150
SCALE = 30.0  # the simulator's 30 s window lasts 1 s
WORKERS = 2
QUEUE_ERROR = "Error reading schedule"  # what each consumer logs, every second, without Redis


def _noticed(processes: Fleet, workers: list[subprocess.Popen[bytes]], times: int) -> bool:
    """Every worker has logged the lost store `times` times (a second apart)."""
    return all(processes.log_of(worker).count(QUEUE_ERROR) >= times for worker in workers)


async def test_redis_lost_and_restarted_empty_mid_scan_sends_nothing_over_the_limit_and_finishes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_database: str,
    reliability: list[Finding],
    long_faults: bool,
) -> None:
    users = LONG_USERS if long_faults else USERS  # --long-faults: a larger scan
    patience = 60 * users / USERS  # seconds to wait for each stage
    require_redis_server()
    began = time.monotonic()
    run = uuid.uuid4().hex[:8]
    client = (f"faults-redis-{run}", "faults-redis-secret")
    with fleet(tmp_path) as processes:
        store = PrivateRedis(processes)
        store.start()
        sim = start_simulator(processes, users=users, scale=SCALE, client=client)
        env = deployment_env(
            tmp_path=tmp_path,
            sim_url=sim.url,
            redis_url=store.url,
            database_url=postgres_database,
            client=client,
            scale=SCALE,
            prefix=f"bbredis{run}",
            heartbeat_interval="1",
            stale_after="8",
            # Messages lost with Redis: their jobs are sent again once 5 s past due.
            overdue_after="5",
            max_concurrent_users="64",
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        async with (
            open_services(settings) as services,
            embedded_jobs(services, consumers=False) as runtime,
        ):
            workers = [processes.worker() for _ in range(WORKERS)]
            await log_in(services, sim.url, client, users)
            jobs = await fire_daily_scan(services, runtime)
            reaping = Reaping()
            await until_succeeded(runtime, users // 3, reaping, within=patience)

            # The fault: Redis dies with its data; it comes back (empty) once every worker
            # has found it gone twice: an outage longer than the simulator's window.
            store.kill()
            down_at = time.monotonic()
            deadline = down_at + 30
            while not await asyncio.to_thread(_noticed, processes, workers, 2):
                assert time.monotonic() < deadline, processes.output("worker")[-3000:]
                await reaping.pass_once(runtime)  # the scheduler keeps trying meanwhile
                await asyncio.sleep(0.1)  # polling the workers' logs
            up_at = time.monotonic()  # from here on the store may answer again
            store.start()
            after_restart = dict(await runtime.store.counts())

            counts = await until_finished(runtime, len(jobs), reaping, within=patience)
            rows = await job_rows(services.database)
            snapshots = await snapshots_by_user(services.database)
            user_ids = set(await services.users.all_ids())
        stats = sim.stats()
        admitted = sim.admitted()
        queue_errors = processes.output("worker").count(QUEUE_ERROR)
    elapsed = time.monotonic() - began

    window = LIMIT.period / SCALE
    # Calls granted before the kill may still land within the margin after it.
    during = bisect_left(admitted, up_at) - bisect_right(admitted, down_at + MARGIN)
    first_window = bisect_right(admitted, up_at + window) - bisect_left(admitted, up_at)
    statuses = Counter(status for status, _ in rows.values())
    extra_attempts = sum(n - 1 for _, n in rows.values())
    top_items = stats["by_endpoint"]["top_items"]["requests"]
    assert statuses == {"succeeded": users}, counts
    assert set(snapshots) == user_ids
    assert set(snapshots.values()) == {1}
    assert sum(reaping.resent.values()) > 0  # lost messages came back through the reaper
    assert TOP_ITEMS_PER_USER * users <= top_items <= TOP_ITEMS_PER_USER * (users + extra_attempts)
    # Fail closed: nothing sent without the shared store, nothing refused upstream.
    assert during == 0
    assert stats["http_429"] == 0, stats
    assert stats["max_in_window"] <= LIMIT.limit
    # The restarted store is empty: the first window runs at half the limit.
    assert first_window <= LIMIT.limit // 2
    reliability.append(
        Finding(
            fault="Redis killed mid-scan and restarted empty",
            injected=(
                f"SIGKILL of the Redis holding the queues, the global limiter and the user limit "
                f"(no persistence) a third of the way through a scan of {users} users on "
                f"{WORKERS} workers (simulator ×{SCALE:g}); started again on the same port, "
                f"empty, once every worker had failed to reach it twice "
                f"({up_at - down_at:.1f} s later)."
            ),
            observed={
                "outage seconds": round(up_at - down_at, 2),
                "calls admitted upstream while Redis was down (after the margin)": during,
                "calls admitted in the first window after the restart / limit": (
                    f"{first_window} / {LIMIT.limit}"
                ),
                "schedule read errors logged by the workers (one a second each)": queue_errors,
                "jobs right after the restart": {k: v for k, v in after_restart.items() if v},
                "waiting jobs sent again by the reaper (message lost)": len(reaping.resent),
                "running jobs given back by the reaper (stale)": len(reaping.stale),
                "reaper passes cut short by Redis being down": reaping.failed_passes,
                "jobs by status": dict(statuses),
                "extra attempts (retried after a Redis error, or given back)": extra_attempts,
                "users with exactly one snapshot": sum(n == 1 for n in snapshots.values()),
                "upstream calls": stats["requests"],
                "429s": stats["http_429"],
                "max in window / limit": f"{stats['max_in_window']} / {stats['limit']}",
                "test seconds": round(elapsed, 1),
            },
        )
    )
