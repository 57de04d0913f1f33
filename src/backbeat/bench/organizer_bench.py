"""`backbeat bench organizer`: the daily scan of N users, measured against its plan.

The simulator runs in-process at a time scale, backbeat's limits are the real ones scaled the
same way, and W scans run at once so the binding class stays saturated. The plan is computed
from the calls the scans really made (the simulator's count per class), so the comparison
tests the window arithmetic and the limiter's throughput, not the estimate of calls per user.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from backbeat.clock import SystemClock
from backbeat.config import (
    RateLimitSettings,
    Settings,
    SimulatorSettings,
)
from backbeat.db import migrations
from backbeat.db.engine import open_database
from backbeat.db.models import User
from backbeat.demo.settings import simulated_settings
from backbeat.domain.organizer import CallsPerUser, OrganizerScan, TrackLanguage, fan_out_plan
from backbeat.simulator import create_app
from backbeat.simulator.consent import consent
from backbeat.spotify.auth import AccessToken, MemoryUserTokens
from backbeat.upstream.stack import UpstreamStack

BASE = "http://sim"
CLIENT = ("backbeat-bench", "backbeat-bench-secret")
SCOPES = "user-library-read playlist-read-private playlist-modify-private"


async def bench_organizer(users: int, time_scale: float, workers: int) -> dict[str, Any]:
    simulator = SimulatorSettings(artists=80, users=users, time_scale=time_scale, limit=100)
    app = create_app(simulator, SystemClock())
    transport = httpx.ASGITransport(app=app)
    limits = RateLimitSettings().time_scaled(time_scale)
    with tempfile.TemporaryDirectory() as scratch:
        settings = simulated_settings(
            Path(scratch), BASE, CLIENT, environment="test", ratelimit=limits
        )
        return await _run(settings, transport, users, workers, time_scale)


async def _run(
    settings: Settings,
    transport: httpx.ASGITransport,
    users: int,
    workers: int,
    time_scale: float,
) -> dict[str, Any]:
    tokens = MemoryUserTokens()
    clock = SystemClock()
    names = [f"user{n:04d}" for n in range(users)]
    async with (
        open_database(settings) as database,
        httpx.AsyncClient(transport=transport, base_url=BASE) as plain,
        UpstreamStack(settings, clock, transport=transport, user_tokens=tokens) as stack,
    ):
        await migrations.upgrade(database.engine)
        async with database.sessions() as session, session.begin():
            session.add_all(User(id=name, spotify_id=name) for name in names)
        for name in names:
            grant = await consent(
                plain,
                name,
                CLIENT,
                "user-library-read playlist-read-private playlist-modify-private",
            )
            expires = clock.time() + grant["expires_in"]
            await tokens.save(
                name, AccessToken(grant["access_token"], expires, grant["refresh_token"])
            )
        language = await asyncio.to_thread(TrackLanguage)
        scan = OrganizerScan(database, stack, clock, language=language)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for name in names:
            queue.put_nowait(name)
        failures: list[str] = []

        async def worker() -> None:
            while not queue.empty():
                user = queue.get_nowait()
                try:
                    await scan.run(user)
                except Exception as error:  # reported, not raised: the bench measures
                    failures.append(f"{user}: {type(error).__name__}: {error}")

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed = time.monotonic() - started
        apps = (await plain.get("/_sim/stats")).json()["apps"]
        if not apps:
            raise RuntimeError(f"no scan reached the simulator: {failures[:3]}")
        stats = next(counts for app, counts in apps.items() if CLIENT[0] in app)
    by_class = stats["by_class"]
    measured = CallsPerUser(
        **{name: by_class[name]["successes"] / users for name in ("read", "write", "batch")}
    )
    planned = fan_out_plan(users, settings.ratelimit, measured)
    return {
        "users": users,
        "time_scale": time_scale,
        "workers": workers,
        "elapsed_s": round(elapsed, 2),
        "planned_s": round(planned.scan_window_s, 2),
        "ratio": round(elapsed / planned.scan_window_s, 3),
        "binding_class": planned.binding_class,
        "calls_per_user": {k: round(v, 2) for k, v in vars_of(measured).items()},
        "http_429": stats["http_429"],
        "failed_users": len(failures),
        "failures": failures[:5],
        "max_in_window": {name: by_class[name]["max_in_window"] for name in by_class},
        "limits": {c.op_class: c.limit for c in planned.classes},
        "plan": planned.as_json(),
    }


def vars_of(calls: CallsPerUser) -> dict[str, float]:
    return {"read": calls.read, "write": calls.write, "batch": calls.batch}
