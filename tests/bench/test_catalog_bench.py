"""`bench catalog`: the workload's plan, the figures, its part of the report, and a small real
run (a simulator process and two `backbeat serve` processes on Redis and Postgres)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from backbeat.bench.catalog import CatalogSpec, bench_catalog, by_endpoint
from backbeat.bench.catalog_workload import SEEDS, plan
from backbeat.bench.report import BEGIN, END, write_report
from backbeat.config import SimulatorSettings
from backbeat.simulator.catalog import Catalog

FIELDS = {
    "strategy", "users", "processes", "time_scale", "logical_calls", "upstream_calls",
    "upstream_spotify", "upstream_reccobeats", "upstream_ratio", "cache_hits", "dedup_shared",
    "http_429", "requests", "errors", "latency_p50_ms", "latency_p99_ms",
    "goal_upstream_at_most_0_4", "by_endpoint", "by_route", "cache_keys_at_start",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    world = SimulatorSettings()
    return Catalog(world.seed, world.artists)


def test_favourites_are_zipf_shaped_and_the_same_every_run(catalog: Catalog) -> None:
    users = [f"user{n:04d}" for n in range(300)]
    plans = plan(catalog, users, 5, 1.1, seed=1)
    assert plans == plan(catalog, users, 5, 1.1, seed=1)
    assert plans != plan(catalog, users, 5, 1.1, seed=2)
    artists = Counter(f.artist_id for p in plans for f in p.favourites)
    most_popular = max(catalog.artists.values(), key=lambda a: (a.popularity, a.id))
    assert artists.most_common(1)[0][0] == most_popular.id
    assert len(artists) < 300 * 5 / 2  # shared: far fewer artists than favourites
    for user in plans:
        assert len({f.artist_id for f in user.favourites}) == 5
        for favourite in user.favourites:
            tracks = {t.id for t in catalog.artist_tracks(favourite.artist_id)}
            assert len(favourite.seeds) == min(SEEDS, len(tracks))
            assert set(favourite.seeds) <= tracks
    flatter = Counter(
        f.artist_id for p in plan(catalog, users, 5, 0.5, seed=1) for f in p.favourites
    )
    assert len(flatter) > len(artists)


def test_asked_and_sent_per_endpoint() -> None:
    asked = {
        ("spotify:app", "search"): 10,
        ("spotify:app", "tracks"): 4,
        ("reccobeats", "track"): 3,
    }
    spotify = {"by_endpoint": {"search": {"requests": 4, "http_429": 1}}}
    recco = {"by_endpoint": {"track": {"requests": 3, "http_429": 0}}}
    rows = by_endpoint(asked, spotify, recco)
    assert list(rows) == ["spotify.search", "reccobeats.track", "spotify.tracks"]
    assert rows["spotify.search"] == {"asked": 10, "upstream": 4, "http_429": 1, "ratio": 0.4}
    assert rows["reccobeats.track"]["ratio"] == 1.0
    assert rows["spotify.tracks"] == {"asked": 4, "upstream": 0, "http_429": 0, "ratio": 0.0}


def test_the_report_has_a_catalog_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written.\n")
    catalog = {
        "bench": "catalog", "strategy": "backbeat", "users": 60, "processes": 2,
        "time_scale": 30.0, "zipf": 1.1, "favourites": 5, "logical_calls": 6000,
        "upstream_calls": 1500, "upstream_spotify": 1000, "upstream_reccobeats": 500,
        "upstream_ratio": 0.25, "goal_upstream_at_most_0_4": True, "http_429": 0,
        "requests": 2500, "errors": 0, "latency_p50_ms": 40.0, "latency_p99_ms": 900.0,
        "by_endpoint": {
            "spotify.tracks": {"asked": 2000, "upstream": 600, "http_429": 0, "ratio": 0.3},
            "reccobeats.track": {"asked": 300, "upstream": 300, "http_429": 0, "ratio": 1.0},
        },
    }  # fmt: skip
    write_report([catalog], doc)
    write_report([catalog], doc)
    text = doc.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "Hand-written." in text
    assert text.count("## Shared catalog") == 1
    assert "| 60 | 2 | 6000 | 1000 | 500 | 0.25 | True | 0 | 2500 | 0 | 40.0 | 900.0 |" in text
    assert "## Daily scan" not in text  # no scan report given
    assert text.index("## Shared catalog") < text.index(END)
    assert (tmp_path / "benchmarks" / "catalog-calls.png").stat().st_size > 1000


@pytest.mark.services
def test_a_small_catalog_run_for_real(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    before = dict(os.environ)
    spec = CatalogSpec(
        10,
        2,
        30,
        redis_url=redis_url.rsplit("/", 1)[0] + "/12",  # a DB of its own: the cache is emptied
        postgres_url=postgres_url,
    )
    found = bench_catalog(spec, tmp_path)
    assert dict(os.environ) == before
    assert set(found) >= FIELDS
    assert found["cache_keys_at_start"] == 0
    assert found["errors"] == 0
    assert found["artists_not_found"] == 0
    assert found["requests"] >= 10 * 5 * 5  # five requests per favourite artist at least
    assert found["upstream_calls"] == found["upstream_spotify"] + found["upstream_reccobeats"]
    assert found["upstream_reccobeats"] > 0
    assert 0 < found["upstream_calls"] <= found["logical_calls"]
    assert found["upstream_ratio"] < 0.85  # caching saved calls: users share artists
    assert found["cache_hits"] > 0
    assert found["distinct_artists"] < 10 * 5
    for name, row in found["by_endpoint"].items():
        assert row["upstream"] - row["http_429"] <= row["asked"], name  # a 429 is sent again
