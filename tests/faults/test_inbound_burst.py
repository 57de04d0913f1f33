"""One user's burst at an expensive route, another user going about their business.

backbeat runs as `backbeat serve` (its own process and interpreter, so the test's load does not
share its GIL) beside the simulator. Bob's requests are timed alone first — the unloaded
baseline — then again while Alice fires 200 concurrent organizer scans (a few per hour are
allowed). Alice's extra scans are refused with 429, `Retry-After` and a JSON message, without
starting work and without a database round trip (a probe in the server counts its session
lookups); Bob's requests all succeed, their latency compared with his own baseline as a ratio,
and none of them stalls behind the burst. Nothing waits for a rate window to pass: the window
is an hour."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from backbeat.api.auth import SESSION_COOKIE
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer, free_port
from tests.api.deployment import log_in_as
from tests.faults.report import Finding
from tests.faults.session_probe import ENV as PROBE_ENV
from tests.faults.session_probe import lookups

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
BACKBEAT = str(Path(sys.executable).parent / "backbeat")
BURST = 200
SCANS_PER_HOUR = 3  # the inbound limit on manual organizer scans (the default)
BOB_REQUESTS = ("/api/users/me", "/api/organizer/status", "/api/organizer/settings")
BASELINE_ROUNDS = 20
# How much slower the other user may be while the burst is refused. On 2 shared cores one API
# process serves both users, so some queueing is physics; a burst that did real work (or held
# Bob behind all of its requests) shows up as 10x and more.
MEDIAN_RATIO, P90_RATIO = 3.0, 5.0
STALL = 10  # a request this many times the baseline median is counted as stalled
# Bob's slowest request during the burst. What is left of the burst's cost is the loop refusing
# 200 requests that arrive at once, about 0.1 s (0.35 s seen on a loaded 2-core machine); while
# each refusal first looked its session up in the database, one to four of Bob's requests took
# 0.44–1.1 s.
MAX_LATENCY = 0.5
BURST_SCRIPT = """
import asyncio, json, sys
import httpx

async def main(api, session, count):
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    cookies = {"backbeat_session": session}
    async with httpx.AsyncClient(base_url=api, cookies=cookies, limits=limits, timeout=60) as c:
        print("ready", flush=True)
        answers = await asyncio.gather(*(c.post("/api/organizer/scan") for _ in range(count)))
    found = [[a.status_code, a.headers.get("retry-after"), a.text] for a in answers]
    print(json.dumps(found), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@contextmanager
def serve(tmp_path: Path, sim_url: str, token_key: str, probe: Path) -> Iterator[str]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BACKBEAT_") and name not in ("REDIS_URL", "DATABASE_URL")
    }
    env = inherited | {
        "BACKBEAT_ENVIRONMENT": "test",
        "BACKBEAT_DATABASE__URL": f"sqlite:///{tmp_path / 'backbeat.db'}",
        "BACKBEAT_SECURITY__TOKEN_KEYS": token_key,
        "BACKBEAT_AUTH__SESSION_SECRET": "burst-test-session-secret",
        "BACKBEAT_AUTH__REDIRECT_URI": f"{api}/auth/callback",
        "BACKBEAT_AUTH__COOKIE_SECURE": "false",
        "BACKBEAT_ORGANIZER__SCAN_RATE": f"{SCANS_PER_HOUR}/3600",
        "BACKBEAT_SPOTIFY__API_URL": f"{sim_url}/v1",
        "BACKBEAT_SPOTIFY__ACCOUNTS_URL": sim_url,
        "BACKBEAT_RECCOBEATS__URL": f"{sim_url}/reccobeats",
        "BACKBEAT_JOBS__VAR_DIR": str(tmp_path / "var"),
        "BACKBEAT_JOBS__PREFIX": f"bbburst_{uuid.uuid4().hex[:8]}",
        "BACKBEAT_JOBS__POLL_MAX_DELAY": "0.05",
        "BACKBEAT_JOBS__PLUGINS": json.dumps(["tests.faults.session_probe:plugin"]),
        PROBE_ENV: str(probe),
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [BACKBEAT, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60  # a loaded machine starts it slowly
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{api}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)  # polling the process until it listens
        yield api
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


async def timed(client: httpx.AsyncClient, method: str, path: str) -> tuple[int, float]:
    began = time.perf_counter()
    response = await client.request(method, path)
    return response.status_code, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def test_one_users_burst_is_refused_without_slowing_another(
    tmp_path: Path, token_key: str, reliability: list[Finding]
) -> None:
    started = time.monotonic()
    probe = tmp_path / "session-lookups"
    with (
        BackgroundServer(create_simulator(SimulatorSettings(artists=30, users=10))) as sim,
        serve(tmp_path, sim.url, token_key, probe) as api,
    ):
        async with (
            httpx.AsyncClient(base_url=api, timeout=60, follow_redirects=True) as alice,
            httpx.AsyncClient(base_url=api, timeout=60, follow_redirects=True) as bob,
        ):
            await log_in_as(alice, "user0003")
            await log_in_as(bob, "user0004")
            off = {"enabled": False, "by_language": False, "by_genre": False}
            for user in (alice, bob):  # a scan that finds nothing to do: the limit is the test
                assert (await user.put("/api/organizer/settings", json=off)).status_code == 200

            # Bob alone: the baseline (after a warm-up round).
            for path in BOB_REQUESTS:
                await bob.get(path)
            baseline: list[float] = []
            for _ in range(BASELINE_ROUNDS):
                for path in BOB_REQUESTS:
                    status, seconds = await timed(bob, "GET", path)
                    assert status == 200
                    baseline.append(seconds)

            # Alice's burst from a process of its own (so the load generator's work does not
            # delay Bob's client), Bob's requests while it is in flight.
            burst = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                BURST_SCRIPT,
                api,
                alice.cookies[SESSION_COOKIE],
                str(BURST),
                stdout=asyncio.subprocess.PIPE,
            )
            assert burst.stdout is not None
            assert (await burst.stdout.readline()).strip() == b"ready"
            lookups_before = lookups(probe)
            burst_began = time.perf_counter()
            burst_over = asyncio.create_task(burst.stdout.readline())  # its last line: answers
            bob_scan = await timed(bob, "POST", "/api/organizer/scan")  # his own, meanwhile
            during: list[tuple[int, float]] = []
            while not burst_over.done() or len(during) < len(BOB_REQUESTS):
                for path in BOB_REQUESTS:
                    during.append(await timed(bob, "GET", path))
            burst_seconds = time.perf_counter() - burst_began
            answers: list[tuple[int, str | None, str]] = json.loads(await burst_over)
            assert await burst.wait() == 0
            first_grant_age = time.perf_counter() - burst_began
            # Every request answered: each of Bob's looked his session up once.
            burst_lookups = lookups(probe) - lookups_before - 1 - len(during)

    by_status = Counter(status for status, _, _ in answers)
    refused = [(retry, body) for status, retry, body in answers if status == 429]
    retry_after = [int(retry or 0) for retry, _ in refused]
    messages = [json.loads(body)["error"]["message"] for _, body in refused]
    loaded = [seconds for _, seconds in during]
    ms = {
        "baseline": (statistics.median(baseline), percentile(baseline, 0.9), max(baseline)),
        "during": (statistics.median(loaded), percentile(loaded, 0.9), max(loaded)),
    }
    ratio_median = ms["during"][0] / ms["baseline"][0]
    ratio_p90 = ms["during"][1] / ms["baseline"][1]
    stalls = [seconds for seconds in loaded if seconds > STALL * ms["baseline"][0]]

    assert by_status[202] == SCANS_PER_HOUR  # exactly Alice's allowance; the rest refused
    assert by_status[429] == BURST - SCANS_PER_HOUR
    # Each refusal says when Alice's first scan of the hour leaves the window.
    assert all(3600 - first_grant_age - 2 <= seconds <= 3600 for seconds in retry_after)
    assert all(message.startswith("too many organizer requests") for message in messages)
    assert bob_scan[0] == 202  # Bob's allowance is his own
    assert {status for status, _ in during} == {200}
    # Only the granted scans read Alice's session; the refusals cost no database round trip.
    assert burst_lookups == SCANS_PER_HOUR
    assert ratio_median <= MEDIAN_RATIO, ms
    assert ratio_p90 <= P90_RATIO, ms
    assert ms["during"][2] <= MAX_LATENCY, ms  # no request of Bob's stalled behind the burst
    shown = {name: [round(v * 1000, 1) for v in values] for name, values in ms.items()}
    reliability.append(
        Finding(
            fault="Inbound burst from one user",
            injected=(
                f"{BURST} concurrent POST /api/organizer/scan (limit {SCANS_PER_HOUR}/hour) from "
                f"one user, from a separate process, against `backbeat serve`; another user's "
                f"GETs timed alone first ({len(baseline)}) and during the burst."
            ),
            observed={
                "burst answers by status": dict(by_status),
                "Retry-After of the 429s (s)": [min(retry_after), max(retry_after)],
                "burst in flight (s)": round(burst_seconds, 2),
                "session lookups in the database by the burst": burst_lookups,
                "other user's requests during the burst": dict(
                    Counter(status for status, _ in during)
                ),
                "other user's own scan during the burst": bob_scan[0],
                "other user's latency ms, median / p90 / max": shown,
                "latency ratio during/baseline, median": round(ratio_median, 2),
                "latency ratio during/baseline, p90": round(ratio_p90, 2),
                f"other user's requests over {STALL}x the baseline median": len(stalls),
                "note": (
                    "a refusal is decided on the signed session token before the database is "
                    "asked, so the burst costs the loop alone; what is left of a stall is the "
                    "request that arrived with the burst and waited while the loop refused it"
                ),
                "test seconds": round(time.monotonic() - started, 1),
            },
        )
    )
