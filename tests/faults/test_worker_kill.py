"""SIGKILL of `backbeat worker` processes in the middle of the daily scan.

Redis mode, as deployed on several machines: PriorityRedisHuey queues, the global limiter and
the user limit in Redis (the shared server, under this test's own prefix and app), a fresh
Postgres database, a time-scaled simulator; the scan is of one time range (see
`fire_daily_scan`). One worker is killed at 15 % of the jobs done (and restarted, as a service
manager would), then every worker at 30 %. Huey delivers at most once, so the jobs the dead
workers held are only in their rows, `running` with a heartbeat that stopped: the reaper's pass
gives them back. No job may be lost (every row ends succeeded) and none done twice (one
snapshot per user, every extra attempt and every extra upstream call explained by a job the
reaper gave back).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from backbeat.config import Settings
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from tests.faults.fleet import (
    TOP_ITEMS_PER_USER,
    Reaping,
    deployment_env,
    drop_keys,
    fire_daily_scan,
    fleet,
    job_rows,
    log_in,
    running_jobs,
    snapshot_dates,
    snapshots_by_user,
    start_simulator,
    today,
    until_finished,
    until_succeeded,
)
from tests.faults.report import Finding

pytestmark = [pytest.mark.faults, pytest.mark.services]

LONG_USERS = 1000
USERS = 300
SCALE = 30.0  # the simulator's 30 s window lasts 1 s
WORKERS = 2


async def test_sigkill_of_one_then_every_worker_loses_no_job_and_does_none_twice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    postgres_database: str,
    reliability: list[Finding],
    long_faults: bool,
) -> None:
    users = LONG_USERS if long_faults else USERS  # --long-faults: a larger scan
    patience = 60 * users / USERS  # seconds to wait for each stage
    began, first_day = time.monotonic(), today()
    run = uuid.uuid4().hex[:8]
    client = (f"faults-kill-{run}", "faults-kill-secret")
    prefix = f"bbkill{run}"
    with fleet(tmp_path) as processes:
        sim = start_simulator(processes, users=users, scale=SCALE, client=client)
        env = deployment_env(
            tmp_path=tmp_path,
            sim_url=sim.url,
            redis_url=redis_url,
            database_url=postgres_database,
            client=client,
            scale=SCALE,
            prefix=prefix,
            # Beats every second; a row without one for 8 s belongs to a dead worker. A job
            # whose message was lost (taken by a worker killed before it claimed the row)
            # is sent again once 30 s late.
            heartbeat_interval="1",
            stale_after="8",
            overdue_after="30",
            # The dead workers' user places stay taken for their lease (60 s): room for more.
            max_concurrent_users="64",
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        try:
            async with (
                open_services(settings) as services,
                embedded_jobs(services, consumers=False) as runtime,
            ):
                workers = [processes.worker() for _ in range(WORKERS)]  # start while users log in
                await log_in(services, sim.url, client, users)
                jobs = await fire_daily_scan(services, runtime)
                fired = time.monotonic()
                reaping = Reaping()

                # At 15 %: one worker dies; its service manager starts another.
                await until_succeeded(runtime, users * 15 // 100, reaping, within=patience)
                succeeded = [(await runtime.store.counts())["succeeded"]]
                processes.kill(workers[0])
                workers[0] = processes.worker()
                first_running = await running_jobs(services.database)

                # At 30 % every worker dies at once, then all are restarted. (Early, so that
                # the rest of the scan overlaps the re-runs' wait for the dead workers'
                # cross-process dedup locks: 30 s from when they were taken.)
                await until_succeeded(runtime, users * 30 // 100, reaping, within=patience)
                succeeded.append((await runtime.store.counts())["succeeded"])
                for worker in workers:
                    processes.kill(worker)
                # With no worker alive, every running row is a dead worker's job.
                orphans = await running_jobs(services.database)
                killed = time.monotonic()
                workers = [processes.worker() for _ in range(WORKERS)]

                await until_finished(runtime, len(jobs), reaping, within=patience)
                rows = await job_rows(services.database)
                snapshots = await snapshots_by_user(services.database)
                dates = await snapshot_dates(services.database)
                user_ids = set(await services.users.all_ids())
            stats = sim.stats()
        finally:
            drop_keys(redis_url, prefix, client[0])
    elapsed = time.monotonic() - began

    statuses = Counter(status for status, _ in rows.values())
    attempts = Counter(n for _, n in rows.values())
    reaped = sum(reaping.stale.values())
    top_items = stats["by_endpoint"]["top_items"]["requests"]
    assert len(jobs) == users
    assert statuses == {"succeeded": users}, (statuses, processes.output("worker")[-3000:])
    # The kill of every worker caught jobs in flight, and the reaper gave each one back.
    assert orphans
    assert orphans <= set(reaping.stale)
    # None done twice: one snapshot per user, for today ...
    assert set(snapshots) == user_ids
    assert set(snapshots.values()) == {1}
    assert len(dates) == 1
    assert dates <= {first_day, today()}
    # ... and a job ran again only when the reaper gave it back (no other retry happened).
    again = {job: n - 1 for job, (_, n) in rows.items() if n > 1}
    assert again == {job: reaping.stale[job] for job in again}
    assert set(reaping.stale) <= set(again)
    # Upstream: each user's top items once, plus at most once more per job given back.
    assert TOP_ITEMS_PER_USER * users <= top_items <= TOP_ITEMS_PER_USER * (users + reaped)
    reliability.append(
        Finding(
            fault="SIGKILL of one worker, then of every worker, mid-scan",
            injected=(
                f"Daily listening scan of {users} users (Redis queues and limiter, Postgres, "
                f"simulator ×{SCALE:g}) on {WORKERS} `backbeat worker` processes: SIGKILL of "
                f"one after {succeeded[0]} jobs had succeeded (restarted at once), of every "
                f"worker after {succeeded[1]} (all restarted at once)."
            ),
            observed={
                "jobs running (any worker) at the first kill / of them given back": [
                    len(first_running),
                    len(first_running & set(reaping.stale)),
                ],
                "jobs running at the kill of every worker / of them given back": [
                    len(orphans),
                    len(orphans & set(reaping.stale)),
                ],
                "jobs given back by the reaper (stale heartbeat), in all": reaped,
                "waiting jobs sent again by the reaper (30 s overdue)": len(reaping.resent),
                "jobs by status": dict(statuses),
                "jobs by attempts": {str(n): k for n, k in sorted(attempts.items())},
                "users with exactly one snapshot today": sum(n == 1 for n in snapshots.values()),
                "top-items calls upstream (2 per user + at most 2 per job given back)": top_items,
                "upstream calls": stats["requests"],
                "429s": stats["http_429"],
                "max in window / limit": f"{stats['max_in_window']} / {stats['limit']}",
                "seconds: set-up and logins / scan to the kill of every worker / after it": [
                    round(fired - began, 1),
                    round(killed - fired, 1),
                    round(elapsed - (killed - began), 1),
                ],
                "test seconds": round(elapsed, 1),
            },
        )
    )
