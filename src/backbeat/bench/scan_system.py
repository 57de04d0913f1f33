"""The `backbeat` strategy of `bench scan`: the real system as deployed, on this machine.

K `backbeat worker` processes and 2 `backbeat serve` processes share Redis (queues, the global
limiter, the user limiter) and a fresh Postgres database; this process logs the users in, fires
the daily scan as the scheduler would (both cron tasks), and makes interactive calls (searches,
albums) through the two APIs until every job has ended. Jobs are released at once
(`scan_calls_per_user` ~ 0): the limiter alone paces them, which is what is measured. Logical
calls are the workers' `backbeat_upstream_requests_total` (asked, before cache and sharing).
The deployment itself (settings, scratch database, processes, metrics) is `deployment.py`'s.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from backbeat.bench.deployment import (
    asked,
    deployment,
    environment,
    log_in,
    serve_apis,
    start,
)
from backbeat.bench.scan import (
    INTERACTIVE_EVERY,
    Interactive,
    Outcome,
    ScanSpec,
    Simulator,
    search_word,
    stop,
    wait_until_up,
)
from backbeat.config import Settings
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from backbeat.simulator.server import free_port

__all__ = ["API_PROCESSES", "environment", "run_backbeat"]  # environment: as before

API_PROCESSES = 2


async def run_backbeat(spec: ScanSpec, sim: Simulator, log_dir: Path) -> Outcome:
    prefix = f"bbscan{uuid.uuid4().hex[:8]}"
    async with deployment(spec, sim, prefix, spec.processes + API_PROCESSES) as (settings, env):
        return await _run(spec, sim, settings, env, log_dir)


async def _run(
    spec: ScanSpec, sim: Simulator, settings: Settings, env: dict[str, str], log_dir: Path
) -> Outcome:
    users = [f"user{n:04d}" for n in range(spec.users)]
    async with open_services(settings) as services:
        api_tokens = await log_in(services, sim, users, 10)
        metrics_ports = [free_port() for _ in range(spec.processes)]
        started: list[subprocess.Popen[bytes]] = []
        try:
            for port in metrics_ports:
                started.append(
                    start(log_dir, env, "worker", "--queues=spotify", f"--metrics-port={port}")
                )
            workers = list(started)
            api_ports = serve_apis(log_dir, env, API_PROCESSES, started)  # workers boot meanwhile
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
            logical = sum(asked(port) for port in metrics_ports)
        finally:
            for process in started:
                stop(process)
    unfinished = total - counts.get("succeeded", 0)
    return Outcome(logical, unfinished, collected, {"jobs_total": total})


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
