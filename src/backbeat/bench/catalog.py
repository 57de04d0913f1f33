"""`backbeat bench catalog`: how many of the calls a shared-catalog workload asks of backbeat's
upstream client reach the upstreams (issue: upstream calls ≤ 0.4 × logical calls).

A fresh simulator process and K `backbeat serve` processes sharing Redis (response cache,
in-flight dedup, ID registry, limiter) and a scratch Postgres database, deployed as `bench scan`
deploys its APIs; N logged-in users run the ranker + recommendations workload of
`catalog_workload.py` through the K APIs. Figures:

- `logical_calls`: the APIs' `backbeat_upstream_requests_total` (calls asked of the client,
  before cache and sharing; a batch get counts the chunks a plain client would send);
- `upstream_calls`: the simulator's own count of requests from backbeat's Spotify app
  (`upstream_spotify`) and to ReccoBeats (`upstream_reccobeats`), 429s included;
- `upstream_ratio` = upstream ÷ logical, and `by_endpoint`: asked against sent, per endpoint.

Honest by construction: the cache starts empty (the keys of the shared cache, registry, dedup
and ReccoBeats' limiter are removed first, and `cache_keys_at_start` says what was left), no
warm-up is left out, every request the users made counts. The per-user inbound caps (`/api/*`
requests per user) are lifted: they refuse requests before any upstream call, they are not what
is measured. ReccoBeats' budget is time-scaled like Spotify's (`time_scaled` only scales
Spotify's). Cache and registry keys have fixed prefixes, so runs are isolated by Redis database
(13 by default), one run at a time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from prometheus_client.core import Metric

from backbeat.bench.catalog_workload import Record, UserPlan, plan, run_users
from backbeat.bench.deployment import counted, deployment, drop_keys, log_in, scrape, serve_apis
from backbeat.bench.scan import ZIPF, Simulator, simulator, stop
from backbeat.bench.stats import percentile
from backbeat.config import RateLimitSettings, Settings, SimulatorSettings
from backbeat.domain.services import open_services
from backbeat.simulator.catalog import Catalog

GOAL = 0.4  # upstream calls per logical call, at most
FAVOURITES = 5
CONCURRENCY = 8
RECCOBEATS = "reccobeats"  # the simulator's stats name and backbeat's limiter app for it
LIFTED = "1000000/1"
INBOUND = ("CATALOG_RATE", "DISCOVERY_RATE", "RANKING_RATE")
RUN_LOCK = "backbeat-bench-catalog:running"
LOCK_SECONDS = 3600
SHARED_KEYS = ("bb:c:", "bb:id:", "bb:dd:", RECCOBEATS, "inbound:")


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """A run: N users, K `backbeat serve` processes, the time scale; the workload's shape."""

    users: int
    processes: int
    time_scale: float
    zipf: float = ZIPF
    favourites: int = FAVOURITES  # favourite artists per user
    concurrency: int = CONCURRENCY  # user coroutines
    margin: float = 0.01  # backbeat's limiter margin, real seconds: loopback delays
    redis_url: str = "redis://127.0.0.1:6379/13"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    client: tuple[str, str] = ("backbeat-catalog-bench", "backbeat-catalog-bench-secret")
    seed: int = 1  # the workload's draws


@dataclass(frozen=True, slots=True)
class Measured:
    record: Record
    elapsed_s: float
    metrics: list[list[Metric]]  # each API process's, at the end


def bench_catalog(spec: CatalogSpec, log_dir: Path) -> dict[str, Any]:
    world = SimulatorSettings()  # the catalog the simulator is told to build, built here too
    catalog = Catalog(world.seed, world.artists)
    users = [f"user{n:04d}" for n in range(spec.users)]
    plans = plan(catalog, users, spec.favourites, spec.zipf, spec.seed)
    options = (f"--seed={world.seed}", f"--artists={world.artists}")
    with (
        simulator(spec, log_dir, zipf=spec.zipf, options=options) as sim,
        fresh_store(spec.redis_url) as leftover,
    ):
        measured = asyncio.run(_run(spec, sim, plans, log_dir))
        spotify, recco = sim.stats(), sim.stats(RECCOBEATS)
    return {**report(spec, plans, measured, spotify, recco), "cache_keys_at_start": leftover}


@contextmanager
def fresh_store(url: str) -> Iterator[int]:
    """This run alone on `url`'s database, from an empty shared cache, registry and dedup (and
    a fresh ReccoBeats limiter, whose keys name no app of the run's own); yields how many cache
    keys were left all the same (0)."""
    token = uuid.uuid4().hex
    with redis.Redis.from_url(url) as client:
        if not client.set(RUN_LOCK, token, nx=True, ex=LOCK_SECONDS):
            raise RuntimeError(
                f"another `bench catalog` run holds {RUN_LOCK} on {url} (a crashed one's "
                f"expires within {LOCK_SECONDS} s)"
            )
        try:
            drop_keys(url, *SHARED_KEYS)
            yield sum(1 for _ in client.scan_iter(match=f"{SHARED_KEYS[0]}*", count=1000))
        finally:
            drop_keys(url, *SHARED_KEYS)
            if client.get(RUN_LOCK) == token.encode():
                client.delete(RUN_LOCK)


def catalog_env(time_scale: float) -> dict[str, str]:
    """On top of `system_env`: ReccoBeats' budget time-scaled, the inbound caps lifted."""
    scaled = RateLimitSettings().time_scaled(time_scale).reccobeats_endpoints
    lifted = {f"BACKBEAT_AUTH__{name}": LIFTED for name in INBOUND}
    return {"BACKBEAT_RATELIMIT__RECCOBEATS_ENDPOINTS": json.dumps(scaled), **lifted}


async def _run(spec: CatalogSpec, sim: Simulator, plans: list[UserPlan], log_dir: Path) -> Measured:
    prefix = f"bbcat{uuid.uuid4().hex[:8]}"
    extra = catalog_env(spec.time_scale)
    async with deployment(spec, sim, prefix, spec.processes, extra) as (settings, env):
        tokens = await _log_in(settings, sim, [p.name for p in plans])
        started: list[subprocess.Popen[bytes]] = []
        try:
            ports = serve_apis(log_dir, env, spec.processes, started)
            began = time.perf_counter()
            record = await run_users(ports, plans, tokens, spec.concurrency)
            elapsed = time.perf_counter() - began
            metrics = [scrape(port) for port in ports]
        finally:
            for process in started:
                stop(process)
    return Measured(record, elapsed, metrics)


async def _log_in(settings: Settings, sim: Simulator, users: list[str]) -> dict[str, str]:
    async with open_services(settings) as services:
        tokens = await log_in(services, sim, users, len(users))
    return dict(zip(users, tokens, strict=True))


def report(
    spec: CatalogSpec,
    plans: list[UserPlan],
    measured: Measured,
    spotify: dict[str, Any],
    recco: dict[str, Any],
) -> dict[str, Any]:
    asked = _summed(measured.metrics, "backbeat_upstream_requests", "app", "endpoint")
    logical = sum(asked.values())
    upstream = spotify.get("requests", 0) + recco.get("requests", 0)
    ratio = upstream / logical if logical else None
    calls = measured.record.calls
    favourites = [f for p in plans for f in p.favourites]
    return {
        "bench": "catalog",
        "strategy": "backbeat",
        "users": spec.users,
        "processes": spec.processes,
        "time_scale": spec.time_scale,
        "zipf": spec.zipf,
        "favourites": spec.favourites,
        "concurrency": spec.concurrency,
        "logical_calls": logical,
        "upstream_calls": upstream,
        "upstream_spotify": spotify.get("requests", 0),
        "upstream_reccobeats": recco.get("requests", 0),
        "upstream_ratio": None if ratio is None else round(ratio, 4),
        "goal_upstream_at_most_0_4": ratio is not None and ratio <= GOAL,
        "sent_by_backbeat": sum(_summed(measured.metrics, "backbeat_upstream_calls").values()),
        "cache_hits": sum(_summed(measured.metrics, "backbeat_cache_hits").values()),
        "cache_misses": sum(_summed(measured.metrics, "backbeat_cache_misses").values()),
        "dedup_shared": sum(
            count
            for (role,), count in _summed(measured.metrics, "backbeat_dedup_calls", "role").items()
            if role != "leader"
        ),
        "http_429": spotify.get("http_429", 0) + recco.get("http_429", 0),
        "http_5xx": spotify.get("http_5xx", 0) + recco.get("http_5xx", 0),
        "requests": len(calls),
        "errors": sum(not 200 <= c.status < 300 for c in calls),
        "inbound_429": sum(c.status == 429 for c in calls),
        **_latency(c.seconds for c in calls),
        "elapsed_s": round(measured.elapsed_s, 2),
        "distinct_artists": len({f.artist_id for f in favourites}),
        "artists_not_found": measured.record.not_found,
        "seed_lists": len({f.seeds for f in favourites}),
        "seed_sets": len({frozenset(f.seeds) for f in favourites}),
        "by_endpoint": by_endpoint(asked, spotify, recco),
        "by_route": {
            route: {
                "requests": len(group),
                "errors": sum(not 200 <= c.status < 300 for c in group),
                **_latency(c.seconds for c in group),
            }
            for route in dict.fromkeys(c.route for c in calls)
            if (group := [c for c in calls if c.route == route])
        },
    }


def by_endpoint(
    asked: dict[tuple[str, ...], int], spotify: dict[str, Any], recco: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per endpoint (`spotify.search`, `reccobeats.track`, …): calls asked, calls the simulator
    saw (429s among them), and their ratio; most sent first."""
    rows: dict[str, dict[str, Any]] = {}

    def row(upstream: str, endpoint: str) -> dict[str, Any]:
        empty = {"asked": 0, "upstream": 0, "http_429": 0}
        return rows.setdefault(f"{upstream}.{endpoint}", empty)

    for (app, endpoint), count in asked.items():
        row(RECCOBEATS if app == RECCOBEATS else "spotify", endpoint)["asked"] += count
    for upstream, stats in (("spotify", spotify), (RECCOBEATS, recco)):
        for endpoint, counts in stats.get("by_endpoint", {}).items():
            found = row(upstream, endpoint)
            found["upstream"] += counts["requests"]
            found["http_429"] += counts["http_429"]
    for found in rows.values():
        found["ratio"] = round(found["upstream"] / found["asked"], 3) if found["asked"] else None
    return dict(sorted(rows.items(), key=lambda item: (-item[1]["upstream"], item[0])))


def _summed(metrics: list[list[Metric]], name: str, *labels: str) -> dict[tuple[str, ...], int]:
    """Counter `name` by `labels`, summed over every process."""
    total: dict[tuple[str, ...], int] = {}
    for families in metrics:
        for key, value in counted(families, name, *labels).items():
            total[key] = total.get(key, 0) + value
    return total


def _latency(seconds: Iterable[float]) -> dict[str, float | None]:
    values = [s * 1000 for s in seconds]
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return {
        "latency_p50_ms": None if p50 is None else round(p50, 1),
        "latency_p99_ms": None if p99 is None else round(p99, 1),
    }
