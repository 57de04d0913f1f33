"""`GET /metrics` after real calls through the API against the simulator: upstream calls by app,
class, endpoint and status, 429s by reason, limiter waits, cache hits and misses, job outcomes and
durations, jobs by status, queue depths and the limiter's windows."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.deployment import Deployment, finished

Labels = dict[str, str]


def samples(text: str) -> dict[str, list[tuple[Labels, float]]]:
    """Every sample of the exposition by sample name (`..._total`, `..._count`, …)."""
    found: dict[str, list[tuple[Labels, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[Labels, float]]], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    return sum(v for have, v in found.get(name, []) if labels.items() <= have.items())


async def test_metrics_count_what_the_api_did(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    spotify = f"spotify:{deployment.settings.spotify.client_id}"
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        fault = {"endpoint": "search", "status": 429, "times": 1}  # one 429, then answers
        assert (await sim.post("/_sim/faults", json=fault)).status_code == 200
    for query in ("love", "love", "night"):  # the second "love" is a cache hit
        response = await alice.get("/api/search", params={"q": query, "type": "track"})
        assert response.status_code == 200, response.text
    accepted = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    assert accepted.status_code == 202, accepted.text
    task = await finished(alice, accepted.json()["task_id"])
    assert task["status"] == "succeeded", task

    response = await alice.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)

    # Upstream calls by app, class, endpoint and status; the 429 by reason; its retry answered.
    calls = "backbeat_upstream_calls_total"
    search = {"app": spotify, "class": "read", "endpoint": "search"}
    assert value(found, calls, **search, status="429") == 1
    assert value(found, calls, **search, status="200") == 2  # "love" once, "night" once
    assert value(found, "backbeat_upstream_429_total", app=spotify, reason="rate") == 1
    assert value(found, "backbeat_upstream_429_total", reason="quota") == 0
    ingest_calls = value(found, calls, app=spotify, status="200") - 2
    assert ingest_calls >= 2  # the ingest's own reads: top tracks, recently played, …
    # Every request waited for a grant first: one wait observed per call sent.
    waits = "backbeat_limiter_wait_seconds_count"
    assert value(found, waits) == value(found, calls)
    assert value(found, waits, app=spotify, priority="HIGH") >= 3  # the searches, the retry
    assert value(found, "backbeat_limiter_wait_seconds_bucket", le="+Inf") == value(found, calls)

    # Calls asked for: three searches, one answered by the cache.
    asked = "backbeat_upstream_requests_total"
    assert value(found, asked, app=spotify, endpoint="search") == 3
    assert value(found, asked, app=spotify) >= 3 + ingest_calls

    # The cache's own counters.
    assert value(found, "backbeat_cache_hits_total", endpoint="search") == 1
    assert value(found, "backbeat_cache_misses_total", endpoint="search") == 2

    # Jobs: the ingest's outcome; the store's counts; empty queues.
    kind = task["kind"]
    assert value(found, "backbeat_job_outcomes_total", kind=kind, status="succeeded") == 1
    assert value(found, "backbeat_jobs", status="succeeded") >= 1
    assert value(found, "backbeat_jobs", status="failed") == 0
    depths = {labels["queue"]: v for labels, v in found["backbeat_queue_depth"]}
    assert set(depths) == set(deployment.settings.jobs.queues)
    assert set(depths.values()) == {0}
    assert {labels["queue"] for labels, _ in found["backbeat_queue_scheduled"]} == set(depths)

    # The shared limiter's state: the same numbers /metrics/rate-limiter reports.
    limiter = (await alice.get("/metrics/rate-limiter")).json()
    read_used = value(found, "backbeat_limiter_window_used", app=spotify, window="c:read:0")
    assert read_used == limiter["current_usage"]["read"] >= 3
    windows = {w["key"]: w for w in limiter["apps"][spotify]["windows"]}
    read_limit = value(found, "backbeat_limiter_window_limit", app=spotify, window="c:read:0")
    assert read_limit == windows["c:read:0"]["effective_limit"] == limiter["limits"]["read"] / 2
    assert value(found, "backbeat_limiter_multiplier", app=spotify) == 0.5  # the 429 halved it
    assert value(found, "backbeat_limiter_last_429_ceiling", app=spotify) == 1.0  # drawn at 1
    assert limiter["apps"][spotify]["last_429"] == 1.0
    assert value(found, "backbeat_limiter_ban_seconds", app=spotify) == 0
    assert value(found, "backbeat_limiter_waiters", app=spotify) == 0
    assert limiter["http_429"]["rate"] == 1


async def test_job_runs_are_timed(deployment: Deployment, alice: httpx.AsyncClient) -> None:
    accepted = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    task = await finished(alice, accepted.json()["task_id"])
    assert task["status"] == "succeeded", task
    found = samples((await alice.get("/metrics")).text)
    kind = task["kind"]
    duration = "backbeat_job_duration_seconds"
    assert value(found, f"{duration}_count", kind=kind, status="succeeded") == 1
    assert value(found, f"{duration}_bucket", kind=kind, status="succeeded", le="+Inf") == 1
    assert 0 < value(found, f"{duration}_sum", kind=kind) < 60


async def test_each_family_is_exported_once(deployment: Deployment) -> None:
    """Three registries make one answer: no family may appear in two of them."""
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        text = (await client.get("/metrics")).text
    declared = [family.name for family in text_string_to_metric_families(text)]
    assert len(declared) == len(set(declared))
    for family in (
        "backbeat_upstream_calls",
        "backbeat_upstream_429",
        "backbeat_limiter_wait_seconds",
        "backbeat_cache_hits",
        "backbeat_cache_misses",
        "backbeat_dedup_calls",
        "backbeat_job_outcomes",
        "backbeat_job_duration_seconds",
        "backbeat_queue_depth",
        "backbeat_jobs",
        "backbeat_limiter_window_used",
    ):
        assert family in declared
