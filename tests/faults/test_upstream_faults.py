"""Upstream faults under a running system: Spotify halves its limit mid-run (a 429 storm), a
day-long quota ban, 5 % of calls failing with 5xx or hanging, a user's access revoked mid-scan.

The simulator runs as a process of its own (`backbeat simulator serve`), time-scaled, and is
driven through its control endpoints; backbeat runs in the test's process — job consumers on
the test's loop, the API as a real server where a test needs one. Each test records a Finding.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from backbeat.db.models import SpotifyToken, User
from backbeat.domain.services import open_services
from backbeat.jobs.host import embedded_jobs
from backbeat.jobs.sqlstore import SqlJobStore
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.server import free_port
from backbeat.upstream.call import Request
from backbeat.upstream.stack import UpstreamStack
from tests.faults.report import Finding
from tests.faults.upstream_fleet import (
    ApiProcess,
    RecordingClock,
    SimulatorProcess,
    TappedLimiter,
    TappedStore,
    Throttled,
    calls_by_status,
    fire_daily_scan,
    fleet_settings,
    forget_redis_keys,
    job_rows,
    log_in,
    rolling_max,
    settle,
    sim_post,
    sim_stats,
    sim_users,
    status_counts,
    unique,
)

pytestmark = pytest.mark.faults

SEED, ARTISTS = 42, 120  # the simulator's defaults for the seed; a small catalog starts fast
SIM_WINDOW = 30.0  # simulated seconds of the simulator's rolling window
SearchAnswer = tuple[int, str | None, str, float]


@pytest.mark.services
async def test_limit_halved_mid_run_the_shared_pause_holds_and_the_ceiling_adapts(
    tmp_path: Path, redis_url: str, reliability: list[Finding]
) -> None:
    """Three upstream stacks standing for three processes — each its own limiter client, Redis
    connections, HTTP pool and cache; nothing shared but Redis — spend one app budget; 4
    callers each keep it busy with catalog gets. Mid-run the simulator's limit drops from 100
    to 50 per window. The limiters are tapped: every grant, and after every 429 report the
    pause and ceiling the shared store holds."""
    started = time.monotonic()
    scale, limit, processes, callers = 10.0, 100, 3, 4
    window = SIM_WINDOW / scale  # 3 s real
    client_id = unique("faults-storm")
    app = f"spotify:{client_id}"
    tracks = Catalog(SEED, ARTISTS).track_ids
    sim = SimulatorProcess(users=5, artists=ARTISTS, time_scale=scale, limit=limit, latency_ms=150)
    probe = aioredis.Redis.from_url(redis_url)
    try:
        with sim:
            settings = fleet_settings(
                tmp_path,
                sim.url,
                client_id=client_id,
                scale=scale,
                limit=limit,
                database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                redis_url=redis_url,
            )
            # Every get goes upstream: no response cache for single tracks.
            cache = settings.cache.model_copy(update={"ttls": {"track": 0}})
            settings = settings.model_copy(update={"cache": cache})
            stacks = [UpstreamStack(settings) for _ in range(processes)]
            limiters = [TappedLimiter(s.limiter, n, probe, app) for n, s in enumerate(stacks)]
            for stack, limiter in zip(stacks, limiters, strict=True):
                stack.spotify_upstream.limiter = limiter
            period = limiters[0].policy(app).longest_period  # backbeat's window, with margin
            stop = asyncio.Event()
            failures: Counter[str] = Counter()

            async def call_repeatedly(stack: UpstreamStack, offset: int) -> int:
                done = 0
                while not stop.is_set():
                    track = tracks[(offset + 7 * done) % len(tracks)]
                    try:
                        await stack.spotify_upstream.call(Request("track", f"/tracks/{track}"))
                    except Exception as error:  # counted: a caller must never see a 429
                        failures[type(error).__name__] += 1
                    done += 1
                return done

            workers = [
                asyncio.create_task(call_repeatedly(stack, 1000 * n + 250 * k))
                for n, stack in enumerate(stacks)
                for k in range(callers)
            ]
            await asyncio.sleep(2 * window)  # the run before the change
            before = await sim_stats(sim.url, client_id)
            dropped_at = time.monotonic()  # the simulator's clock is this machine's monotonic
            await sim_post(sim.url, "/_sim/limit", {"limit": limit // 2})
            await asyncio.sleep(11 * window)  # the run after it
            stop.set()
            calls = await asyncio.gather(*workers)
            after = await sim_stats(sim.url, client_id)
            async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
                timeline = (await client.get(f"/_sim/timeline/{client_id}")).json()
            for stack in stacks:
                await stack.aclose()
    finally:
        await probe.aclose()
        await forget_redis_keys(redis_url, client_id)

    grants = sorted(g for limiter in limiters for g in limiter.grants)
    limited = sorted(
        (r for limiter in limiters for r in limiter.throttled), key=lambda r: r.paused_at
    )
    episodes: dict[float, list[Throttled]] = {}
    for report in limited:
        episodes.setdefault(report.paused_at, []).append(report)

    # Every 429 the simulator sent reached a limiter, and none before the change.
    assert {r.kind for r in limited} == {"rate_limited"}  # pauses, never a ban
    assert before["http_429"] == 0
    assert after["http_429"] == len(limited) > 0
    assert not failures, dict(failures)  # retries absorbed every 429: callers saw none

    # The shared pause: no process got a slot while a pause was in force; the extra 429s of an
    # episode are calls granted before it began, and neither lengthened it nor lowered the
    # ceiling again.
    extras = []
    for paused_at, reports in episodes.items():
        first = reports[0]
        during = [g for g in grants if paused_at < g < first.pause_until]
        assert not during, (paused_at, first.pause_until, during[:5])
        assert all(r.granted_at <= paused_at for r in reports)
        assert {r.multiplier for r in reports} == {first.multiplier}
        assert {r.pause_until for r in reports} == {first.pause_until}
        extras.append(len(reports) - 1)

    # The adaptive ceiling: each episode halves it; each later episode comes only once the
    # additive recovery (one step per quiet window of backbeat's) took the ceiling above the
    # new limit again, at least one window after the last — a bounded probe, not a storm. It
    # regrows only to one step below the level that drew the last 429 until that is forgotten,
    # so until then every later episode is drawn lower: the probes converge.
    firsts = [reports[0] for reports in episodes.values()]
    ceilings = [round(2 * r.multiplier, 3) for r in firsts]  # the ceiling that drew the 429
    assert all(ceiling * limit > limit // 2 for ceiling in ceilings)
    gaps = [b.paused_at - a.paused_at for a, b in itertools.pairwise(firsts)]
    assert all(gap >= period for gap in gaps), gaps
    rules = limiters[0].policy(app)
    remembered = rules.forget_429_after * rules.recovery_period
    pairs = zip(itertools.pairwise(ceilings), gaps, strict=True)
    assert all(later < earlier for (earlier, later), gap in pairs if gap < remembered), ceilings
    # What the simulator admitted after the first episode: never above the new limit, and the
    # recovered ceiling used it.
    admitted = [t for t in timeline["admitted_at"] if t >= dropped_at + window]
    later_max = rolling_max(admitted, window)
    assert later_max <= limit // 2
    assert later_max > limit // 4  # the ceiling grew back from its halves
    requests_after = after["requests"] - before["requests"]
    share_429 = after["http_429"] / requests_after

    reliability.append(
        Finding(
            fault="Spotify halves its rate limit mid-run (429 storm)",
            injected=(
                f"`POST /_sim/limit` {limit} → {limit // 2} per {SIM_WINDOW:g} simulated s "
                f"(time ×{scale:g}: a {window:g} s window) under {processes} upstream stacks "
                f"(one per process, in one test process) sharing one Redis budget, "
                f"{callers} callers each keeping it busy "
                f"(NORMAL priority, {sim.options['latency_ms']} ms simulated latency); "
                f"{2 * window:g} s before, {11 * window:g} s after the change."
            ),
            observed={
                "upstream requests before / after the change": [
                    before["requests"],
                    requests_after,
                ],
                "429 before the change": before["http_429"],
                "429 after the change (simulator = reported to the limiter)": after["http_429"],
                "pause episodes": len(episodes),
                "extra 429s per episode (calls sent before the pause began)": extras,
                "grants during a pause, any process": 0,
                "ceiling (× limit) that drew each episode's 429": ceilings,
                f"seconds between episodes (backbeat window incl. margin: {period:.2f} s)": [
                    round(gap, 1) for gap in gaps
                ],
                "Retry-After of each episode's first 429 (s)": [r.retry_after for r in firsts],
                f"max admitted in any {window:g} s window after the first "
                f"(new limit {limit // 2})": later_max,
                "429 share of requests after the change": f"{share_429:.2%}",
                "calls completed per caller": calls,
                "test seconds": round(time.monotonic() - started, 1),
            },
            verdict=(
                "held: the pause is shared and counted once; the ceiling halves per episode, "
                "regrows one step per quiet window but only to one step below the level that "
                "drew the last 429, and probes above it again after 10 quiet windows, so a "
                "permanently lowered limit costs one 429 episode per ~10 windows, not one every "
                "few"
            ),
        )
    )


def search_repeatedly(api_url: str, token: str, times: int = 10) -> list[SearchAnswer]:
    """A user's searches with a client of its own: (status, Retry-After, body, ms) each."""
    answers = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=10) as client:
        assert client.get("/api/users/me").status_code == 200  # connected and authenticated
        for n in range(times):
            began = time.perf_counter()
            response = client.get("/api/search", params={"q": f"ban{n}", "type": "track"})
            elapsed = (time.perf_counter() - began) * 1000
            retry_after = response.headers.get("retry-after")
            answers.append((response.status_code, retry_after, response.text, elapsed))
    return answers


@pytest.mark.services
async def test_day_ban_fails_searches_fast_and_defers_jobs_to_its_end(
    tmp_path: Path, redis_url: str, postgres_database: str, reliability: list[Finding]
) -> None:
    """A distributed deployment on one machine: the API server (a process, no consumers) and a
    worker (the test's loop) share Redis and Postgres. The simulator's daily quota runs out
    mid-scan: a QUOTA_EXCEEDED 429 with a Retry-After to the end of the (time-scaled) day."""
    started = time.monotonic()
    users, quota = 20, 160  # the ingest needs about 260 calls: the first day ends mid-scan
    scale = 86_400 / 20  # a simulated day lasts 20 s
    ban_threshold = 2.0  # real seconds: no worker sleeps longer, a longer wait is a ban
    client_id = unique("faults-ban")
    app = f"spotify:{client_id}"
    port = free_port()
    clock = RecordingClock()
    probe = aioredis.Redis.from_url(redis_url)
    sim = SimulatorProcess(users=users, artists=ARTISTS, time_scale=scale, daily_quota=quota)
    try:
        with sim:
            settings = fleet_settings(
                tmp_path,
                sim.url,
                client_id=client_id,
                scale=scale,
                limit=100,
                database_url=postgres_database,
                redis_url=redis_url,
                api_url=f"http://127.0.0.1:{port}",
                ratelimit={"ban_threshold": ban_threshold},
                jobs={"scan_calls_per_user": 10},  # an ingest makes about ten calls
            )
            async with (
                open_services(settings, clock=clock) as services,
                embedded_jobs(services, consumers=True) as runtime,
            ):
                store = runtime.store
                assert isinstance(store, SqlJobStore)
                tapped = TappedStore(store)
                runtime.runner.store = tapped
                limiter = services.upstreams.limiter
                tap = TappedLimiter(limiter, 0, probe, app)
                services.upstreams.spotify_upstream.limiter = tap
                ids = await log_in(services, sim.url, sim_users(users))
                api_token = await services.sessions.issue(ids["user0000"], "api")
                with ApiProcess(settings, port) as api:
                    created = await fire_daily_scan(runtime, ("ingest_all_users",))
                    deadline = time.monotonic() + 40
                    while (await limiter.snapshot(app)).ban_remaining <= 0:
                        assert time.monotonic() < deadline, "the quota never ran out"
                        await asyncio.sleep(0.05)  # polling the shared state
                    # The searches come from a thread of their own: what is timed is the API.
                    searches = await asyncio.to_thread(search_repeatedly, api.url, api_token)
                    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
                        operator_view = (await client.get("/metrics/rate-limiter")).json()
                    still_banned = await sim_stats(sim.url, client_id)
                    searched_by = time.time()
                rows = await settle(services, created, within=60)
                after_ban = await sim_stats(sim.url, client_id)
                finished_at = time.time()
    finally:
        await probe.aclose()
        await forget_redis_keys(redis_url, client_id)

    # The ban, as the worker's reports left it in the shared store.
    quota_429s = [t for t in tap.throttled if t.kind == "quota"]
    assert quota_429s
    assert {t.kind for t in tap.throttled} == {"quota"}
    ban_start = min(t.reported_at for t in quota_429s)
    ban_until = max(t.ban_until for t in quota_429s)
    assert ban_until - ban_start > 5 * ban_threshold  # a ban, far longer than any sleep
    assert all(t.granted_at <= ban_start for t in quota_429s)  # one ban: calls sent before it
    assert after_ban["http_429"] == len(quota_429s)
    # Nothing reached the simulator while it lasted: no grant in the worker, none in the API.
    assert not [g for g in tap.grants if ban_start < g < ban_until]
    assert searched_by < ban_until
    # The simulator's side: by the end of the searches it had answered the day's quota and
    # the quota 429s of calls already in flight, nothing else. A call granted just before the
    # ban may still be on its way then (a loaded machine delays it): it is counted afterwards.
    assert still_banned["requests"] == quota + still_banned["http_429"]
    assert still_banned["http_429"] <= len(quota_429s)

    # Interactive calls during the ban: a 503 at once, saying when to come back.
    statuses = Counter(status for status, _, _, _ in searches)
    latencies = [ms for _, _, _, ms in searches]
    retry_afters = [int(retry_after or "0") for _, retry_after, _, _ in searches]
    assert statuses == {503: len(searches)}, searches[:2]
    assert all("banned" in body for _, _, body, _ in searches)
    assert max(latencies) < 100
    assert all(1 <= seconds <= math.ceil(ban_until - ban_start) + 1 for seconds in retry_afters)
    assert operator_view["banned_for_s"] > 0

    # Jobs: every one that met the ban was deferred to its end (plus jitter), none failed or
    # spent an attempt on it, and all completed afterwards.
    attempts = tapped.attempts()
    deferrals = [a for a in attempts if a[2] == "deferred"]
    assert deferrals
    for _job, _began, _what, _ended, run_at in deferrals:
        assert run_at is not None
        # The job whose call got the 429 reads its own clock after reporting it: a little later.
        assert ban_until - 0.05 <= run_at <= ban_until + settings.jobs.ban_jitter + 0.25
    assert status_counts(rows) == {"succeeded": created}
    assert {row.attempts for row in rows} == {1}  # a deferral gives the attempt back
    deferred_jobs = {d[0] for d in deferrals}
    resumed = [a[1] for a in attempts if a[2] == "succeeded" and a[0] in deferred_jobs]
    assert len(resumed) == len(deferred_jobs)
    assert min(resumed) >= ban_until - 0.05
    # No thread slept through the ban: every wait backbeat asked for was under the threshold.
    assert clock.longest <= ban_threshold
    deferred_runs = [ended - began for _j, began, _w, ended, _r in deferrals]

    reliability.append(
        Finding(
            fault="Day-long quota ban mid-scan",
            injected=(
                f"The simulator's daily quota ({quota} calls; a day is 86 400 simulated s = "
                f"{86_400 / scale:g} s at time ×{scale:g}) runs out during the nightly ingest "
                f"of {users} users: 429 QUOTA_EXCEEDED with Retry-After to the day's end. API "
                "server and worker share Redis (limiter, queues) and Postgres; "
                f"ban threshold {ban_threshold:g} s."
            ),
            observed={
                "ban length (s): limiter / simulator's Retry-After": [
                    round(ban_until - ban_start, 2),
                    round(quota_429s[0].retry_after or 0, 2),
                ],
                "quota 429s (calls in flight when the quota ran out)": len(quota_429s),
                "calls reaching the simulator during the ban": 0,
                "searches during the ban, by status": dict(statuses),
                "search latency during the ban (ms), median / max": [
                    round(statistics.median(latencies), 1),
                    round(max(latencies), 1),
                ],
                "Retry-After of those 503s (s)": sorted(set(retry_afters)),
                "jobs deferred by the ban": len(deferred_jobs),
                "deferred runs' length (s), max": round(max(deferred_runs), 3),
                "deferred to (s after the ban's end), min / max": [
                    round(min(d[4] or 0 for d in deferrals) - ban_until, 3),
                    round(max(d[4] or 0 for d in deferrals) - ban_until, 3),
                ],
                "deferred jobs restarted (s after the ban's end), first / last": [
                    round(min(resumed) - ban_until, 2),
                    round(max(resumed) - ban_until, 2),
                ],
                "jobs succeeded / attempts per job": [
                    status_counts(rows).get("succeeded", 0),
                    sorted({row.attempts for row in rows}),
                ],
                "longest sleep any worker asked for (s)": round(clock.longest, 3),
                "simulator requests / 429s": [after_ban["requests"], after_ban["http_429"]],
                "scan finished (s after the ban's end)": round(finished_at - ban_until, 1),
                "test seconds": round(time.monotonic() - started, 1),
            },
        )
    )


async def test_five_percent_5xx_and_timeouts_during_a_scan_of_100_users(
    tmp_path: Path, reliability: list[Finding]
) -> None:
    """Embedded mode (SQLite, in-memory limiter, consumers in the process): the nightly ingest
    of 100 users while 2.5 % of calls answer 500/502/503 and 2.5 % hang past backbeat's read
    timeout (the simulator answers 504 after a second, backbeat gave up at 0.5 s)."""
    started = time.monotonic()
    users, scale = 100, 1000.0
    client_id = unique("faults-5xx")
    sim = SimulatorProcess(
        users=users,
        artists=ARTISTS,
        time_scale=scale,
        error_rate=0.025,
        timeout_rate=0.025,
        timeout_seconds=1000.0,  # 1 s real
    )
    with sim:
        settings = fleet_settings(
            tmp_path,
            sim.url,
            client_id=client_id,
            scale=scale,
            limit=100,
            database_url=f"sqlite:///{tmp_path / 'backbeat.db'}",
            spotify_timeout=0.5,
            jobs={"scan_calls_per_user": 10},
        )
        async with open_services(settings) as services:
            await log_in(services, sim.url, sim_users(users))
            async with embedded_jobs(services, consumers=True) as runtime:
                created = await fire_daily_scan(runtime, ("ingest_all_users",))
                scan_started = time.monotonic()
                rows = await settle(services, created, within=150)
                scan_seconds = time.monotonic() - scan_started
            sent = calls_by_status(services.upstreams.metrics.registry)
        stats = await sim_stats(sim.url, client_id)

    counts = status_counts(rows)
    failed = [row for row in rows if row.status == "failed"]
    assert created == users
    assert counts.get("succeeded", 0) >= 0.999 * created
    assert counts.get("succeeded", 0) + len(failed) == created
    assert all(row.error for row in failed)
    server_errors = sum(n for status, n in sent.items() if status.startswith("5"))
    timeouts = sent.get("error", 0)
    assert server_errors > 0
    assert timeouts > 0
    requests = sum(sent.values())
    reliability.append(
        Finding(
            fault="5 % of upstream calls fail (5xx and timeouts) during a scan",
            injected=(
                f"Simulator error_rate 2.5 % (500/502/503) and timeout_rate 2.5 % (a hang of "
                f"1 s real, backbeat's read timeout 0.5 s) during the nightly ingest of {users} "
                f"users; embedded mode, time ×{scale:g}."
            ),
            observed={
                "jobs": created,
                "jobs by status": counts,
                "success share": f"{counts.get('succeeded', 0) / created:.1%}",
                "failed jobs with their error recorded": sum(1 for row in failed if row.error),
                "attempts per job (max)": max(row.attempts for row in rows),
                "requests sent by backbeat": requests,
                "answered 500/502/503 / timed out client-side (hung calls)": [
                    server_errors,
                    timeouts,
                ],
                "fault share seen": f"{(server_errors + timeouts) / requests:.1%}",
                "simulator: requests / 5xx / 429": [
                    stats["requests"],
                    stats["http_5xx"],
                    stats["http_429"],
                ],
                "scan seconds": round(scan_seconds, 1),
                "test seconds": round(time.monotonic() - started, 1),
            },
        )
    )


async def test_a_user_revoking_access_mid_scan_fails_only_their_jobs(
    tmp_path: Path, reliability: list[Finding]
) -> None:
    """Embedded mode, the whole nightly scan (library organizer and listening ingest) of 16
    users. Once it is under way, one user whose jobs have not started yet revokes the app's
    access: every access and refresh token of theirs stops working."""
    started = time.monotonic()
    users, scale = 16, 1000.0
    client_id = unique("faults-revoke")
    with SimulatorProcess(users=users, artists=ARTISTS, time_scale=scale) as sim:
        settings = fleet_settings(
            tmp_path,
            sim.url,
            client_id=client_id,
            scale=scale,
            limit=100,
            database_url=f"sqlite:///{tmp_path / 'backbeat.db'}",
            jobs={"scan_calls_per_user": 10, "max_concurrent_users": 4},
        )
        async with open_services(settings) as services:
            ids = await log_in(services, sim.url, sim_users(users))
            names = {user_id: name for name, user_id in ids.items()}
            async with embedded_jobs(services, consumers=True) as runtime:
                created = await fire_daily_scan(runtime)
                deadline = time.monotonic() + 60
                while True:  # mid-scan: some jobs done, some users not started
                    rows = await job_rows(services)
                    done = sum(row.status == "succeeded" for row in rows)
                    untouched = {
                        row.user_id
                        for row in rows
                        if all(r.status == "queued" for r in rows if r.user_id == row.user_id)
                    }
                    if done >= 2 and untouched:
                        break
                    assert time.monotonic() < deadline, status_counts(rows)
                    await asyncio.sleep(0.05)  # polling the table
                victim = sorted(untouched, key=lambda user: names[user or ""])[-1]
                assert victim is not None
                async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
                    revoked = await client.delete(f"/_sim/users/{names[victim]}/tokens")
                    assert revoked.status_code == 200, revoked.text
                progress_at_revocation = status_counts(rows)
                rows = await settle(services, created, within=120)
            async with services.database.sessions() as session:
                flagged = await session.get(User, victim)
                tokens_left = await session.scalar(
                    select(SpotifyToken.user_id).where(SpotifyToken.user_id == victim)
                )
            next_scan = await services.users.all_ids()
        stats = await sim_stats(sim.url, client_id)

    theirs = [row for row in rows if row.user_id == victim]
    others = [row for row in rows if row.user_id != victim]
    assert len(theirs) == 2
    assert len(others) == created - 2
    assert {row.status for row in theirs} == {"failed"}
    assert all(row.error and "must log in again" in row.error for row in theirs)
    assert all(row.attempts == 1 for row in theirs)  # not retried: only a new login helps
    assert {row.status for row in others} == {"succeeded"}
    assert flagged is not None
    assert flagged.needs_relogin
    assert flagged.auth_error
    assert tokens_left is None  # the dead tokens are dropped
    assert victim not in next_scan
    assert len(next_scan) == users - 1
    reliability.append(
        Finding(
            fault="A user revokes the app's access mid-scan",
            injected=(
                f"`DELETE /_sim/users/{names[victim]}/tokens` (every access and refresh token "
                f"of the user) once the nightly scan of {users} users (organizer + ingest, "
                f"{created} jobs) was under way and that user's jobs had not started; "
                f"embedded mode, time ×{scale:g}."
            ),
            observed={
                "jobs at the revocation": progress_at_revocation,
                "tokens revoked (access, refresh)": [
                    revoked.json()["access_tokens"],
                    revoked.json()["refresh_tokens"],
                ],
                "the user's jobs": {row.kind: row.status for row in theirs},
                "the user's job errors": sorted({row.error or "" for row in theirs}),
                "attempts of the user's jobs": [row.attempts for row in theirs],
                "user flagged needs_relogin / auth_error": [
                    flagged.needs_relogin,
                    flagged.auth_error,
                ],
                "tokens left stored for the user": 0 if tokens_left is None else 1,
                "other users' jobs": status_counts(others),
                "users in the next scan": len(next_scan),
                "simulator requests": stats["requests"],
                "test seconds": round(time.monotonic() - started, 1),
            },
        )
    )
