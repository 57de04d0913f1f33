"""The global limit across machines: two hosts saturate one upstream app through one Redis.

Network namespaces stand in for machines: a hub runs Redis and the simulator, two hosts run two
processes each that call the simulator through backbeat's upstream client (`python -m
tests.faults.fleet drive`: limiter, dedup, retries) as fast as the limiter lets them. Each
host reaches the services only over its own link, as a machine on a network would. Grants come
from Redis' clock, not the hosts': the simulator must see at most the limit in any window and
refuse nothing, while both hosts keep the budget busy.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.faults.fleet import (
    LIMIT,
    MARGIN,
    READY,
    Host,
    NetnsUnavailable,
    PrivateRedis,
    Star,
    deployment_env,
    driven,
    fleet,
    require_redis_server,
    star_network,
    start_simulator,
)
from tests.faults.report import Finding

pytestmark = [pytest.mark.faults, pytest.mark.services]

HOSTS = 2
PROCESSES_PER_HOST = 2
CONCURRENCY = 8  # calls in flight per process
SCALE = 30.0  # the simulator's 30 s window lasts 1 s
SECONDS = 8.0  # eight windows


@pytest.fixture
def star() -> Iterator[Star]:
    require_redis_server()
    try:
        with star_network(HOSTS) as network:
            yield network
    except NetnsUnavailable as error:
        message = f"network namespaces are not available here ({error})"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


def test_two_hosts_saturating_one_app_stay_within_the_global_limit(
    tmp_path: Path, star: Star, reliability: list[Finding]
) -> None:
    began = time.monotonic()
    client = (f"faults-hosts-{uuid.uuid4().hex[:8]}", "faults-hosts-secret")
    with fleet(tmp_path) as processes:
        hub = star.test_side.hub  # where the test itself reaches the hub
        # Listening on every link of the hub's namespace (and only there).
        store = PrivateRedis(processes, host=hub, bind="0.0.0.0", netns=star.hub)
        store.start()
        sim = start_simulator(
            processes, users=20, scale=SCALE, client=client, host=hub, netns=star.hub
        )
        port = httpx.URL(sim.url).port
        start_line = tmp_path / "start"
        drivers: list[tuple[Host, subprocess.Popen[bytes]]] = []
        for host in star.hosts:
            env = deployment_env(
                tmp_path=tmp_path,
                sim_url=f"http://{host.hub}:{port}",
                redis_url=f"redis://{host.hub}:{store.port}/0",
                database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                client=client,
                scale=SCALE,
            )
            env["BACKBEAT_CACHE__TTLS"] = '{"artist": 0}'  # every call goes upstream
            for _ in range(PROCESSES_PER_HOST):
                share = f"--share={len(drivers)}/{HOSTS * PROCESSES_PER_HOST}"
                process = processes.start(
                    sys.executable,
                    "-m",
                    "tests.faults.fleet",
                    "drive",
                    f"--seconds={SECONDS:g}",
                    f"--concurrency={CONCURRENCY}",
                    f"--start-file={start_line}",
                    share,
                    netns=host.netns,
                    env=env,
                    name="drive",
                )
                drivers.append((host, process))

        # Everyone connected and warmed up: the start line, then until they are done.
        deadline = time.monotonic() + 60
        while not all(READY in processes.log_of(process) for _, process in drivers):
            assert time.monotonic() < deadline, processes.output("drive")[-3000:]
            assert all(process.poll() is None for _, process in drivers), processes.output("drive")
            time.sleep(0.05)  # polling the drivers' output
        go = time.monotonic()
        start_line.touch()
        for _, process in drivers:
            assert process.wait(timeout=SECONDS + 60) == 0, processes.output("drive")[-3000:]
        reports = [(host, driven(processes.log_of(process))) for host, process in drivers]
        stats = sim.stats()
        admitted = sim.admitted()
    elapsed = time.monotonic() - began

    window = LIMIT.period / SCALE
    in_run = admitted[bisect_left(admitted, go) :]
    budget = SECONDS / (window + MARGIN) * LIMIT.limit  # what backbeat's windows allow
    per_host = {
        host.netns: sum(sum(report["sent"].values()) for h, report in reports if h == host)
        for host in star.hosts
    }
    statuses = {status for _, report in reports for status in report["sent"]}
    outcomes = [report["calls"] for _, report in reports]
    errors = {name for _, report in reports for name in report["errors"]}
    assert stats["http_429"] == 0, stats
    assert statuses == {"200"}
    assert stats["max_in_window"] <= LIMIT.limit
    # No error from the upstream or the limiter (a wait cut by the run's end is no error).
    assert not errors, [report["errors"] for _, report in reports]
    # Both hosts kept the budget busy, each with a fair part of it.
    assert len(in_run) >= 0.6 * budget, (len(in_run), budget)
    assert min(per_host.values()) >= 0.25 * sum(per_host.values()), per_host
    reliability.append(
        Finding(
            fault="Two hosts saturating one app through one Redis",
            injected=(
                f"Network namespaces as machines: Redis and the simulator (×{SCALE:g}) on a hub, "
                f"{HOSTS} hosts linked to it by veth pairs, each with {PROCESSES_PER_HOST} "
                f"processes × {CONCURRENCY} calls in flight through backbeat's upstream client, "
                f"for {SECONDS:g} s ({SECONDS / window:g} windows)."
            ),
            observed={
                "requests sent upstream per host": per_host,
                "calls admitted during the run / backbeat's budget": (
                    f"{len(in_run)} / {budget:.0f}"
                ),
                "429s": stats["http_429"],
                "max in window / limit": f"{stats['max_in_window']} / {stats['limit']}",
                "calls per process (SlotTimeout: its next slot came after the end)": outcomes,
                "test seconds": round(elapsed, 1),
            },
        )
    )
