"""`bench scan` and `bench report`: the figures computed from the simulator's record, and small
real runs of a baseline and of backbeat (processes on Redis and Postgres)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backbeat.bench.report import BEGIN, END, write_report
from backbeat.bench.scan import (
    Interactive,
    Outcome,
    ScanSpec,
    bench_scan,
    overall_utilization,
    per_window,
    report,
    utilization,
)

FIELDS = {
    "strategy", "users", "processes", "limit", "window_s", "time_scale", "logical_calls",
    "upstream_calls", "http_429", "max_in_window", "utilization", "makespan_s",
    "lower_bound_s", "makespan_ratio", "interactive_p50_ms", "interactive_p99_ms", "jobs_failed",
}  # fmt: skip


def test_figures_from_admission_times() -> None:
    spec = ScanSpec(10, 60, "naive", 2)  # 80 per 0.5 s
    # Two full windows of 80, then 20 in a last partial one.
    admitted = [i * 0.5 / 80 for i in range(160)] + [1.0 + i * 0.01 for i in range(20)]
    outcome = Outcome(
        logical_calls=200,
        jobs_failed=1,
        interactive=[Interactive(0.01, 0.005, True), Interactive(0.02, 0.0, True)],
    )
    found = report(spec, outcome, {"requests": 190, "http_429": 10, "max_in_window": 80}, admitted)
    assert set(found) >= FIELDS
    assert found["utilization"] == 1.0  # the partial last window is left out
    assert found["lower_bound_s"] == round(180 / 80 * 0.5, 2)
    assert found["makespan_s"] == 1.19
    assert found["makespan_ratio"] == round(1.19 / (180 / 80 * 0.5), 3)
    # 10 ms of which 5 ms scaled → 10 + 5 × 59 = 305 ms in real time; 20 ms with none.
    assert found["interactive_realtime_ms"] == [20.0, 305.0]
    assert per_window(admitted, 0.5) == [80, 80, 20]


def test_utilization_is_taken_over_the_saturated_stretch() -> None:
    # A ramp of 10 and 40, full windows of 80 with a dip to 60 between them, a tail of 20,
    # and the last partial window: the dip counts, the ramp and the tail do not.
    counts = [10, 40, 80, 60, 80, 20, 5]
    admitted = [w * 0.5 + i * 0.5 / (n + 1) for w, n in enumerate(counts) for i in range(n)]
    assert per_window(admitted, 0.5) == counts
    assert utilization(admitted, 0.5, 80) == pytest.approx((80 + 60 + 80) / 3 / 80)
    assert overall_utilization(admitted, 0.5, 80) == pytest.approx(sum(counts[:-1]) / 6 / 80)
    # Never saturated: every full window counts.
    low = [w * 0.5 + i * 0.5 / 11 for w in range(3) for i in range(10)]
    assert utilization(low, 0.5, 80) == 10 / 80
    # One burst to the limit is no saturated stretch either.
    burst = [10, 80, 10, 10, 1]
    once = [w * 0.5 + i * 0.5 / (n + 1) for w, n in enumerate(burst) for i in range(n)]
    assert utilization(once, 0.5, 80) == pytest.approx(110 / 4 / 80)


def test_report_section_replaces_itself(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written.\n")
    one = {
        "strategy": "naive", "users": 5, "processes": 2, "limit": 80, "window_s": 0.5,
        "time_scale": 60.0, "logical_calls": 10, "upstream_calls": 12, "http_429": 2,
        "max_in_window": 12, "utilization": 0.1, "makespan_s": 1.0, "lower_bound_s": 0.1,
        "makespan_ratio": 10.0, "interactive_p50_ms": 5.0, "interactive_p99_ms": 9.0,
        "jobs_failed": 0, "per_window": [12, 0, 3], "interactive_realtime_ms": [5.0, 9.0],
    }  # fmt: skip
    write_report([one, {**one, "strategy": "backbeat", "http_429": 0}], doc)
    write_report([one, {**one, "strategy": "backbeat", "http_429": 0}], doc)
    text = doc.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "Hand-written." in text
    assert "| backbeat | 10 | 12 | 0 |" in text
    for name in ("scan-windows", "scan-makespan", "scan-interactive", "scan-calls"):
        assert (tmp_path / "benchmarks" / f"{name}.png").stat().st_size > 1000


def test_a_small_naive_scan_for_real(tmp_path: Path) -> None:
    found = bench_scan(ScanSpec(4, 60, "naive", 2, max_seconds=60), tmp_path)
    assert set(found) >= FIELDS
    assert found["host_cpus"] >= 1
    assert 0 < found["host_cpu_busy"] <= 1
    assert found["logical_calls"] >= 4 * 20  # liked pages, artists, playlists, 3 × ingest
    assert found["upstream_calls"] >= found["logical_calls"] - found["http_429"]


@pytest.mark.services
def test_a_small_backbeat_scan_for_real(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    spec = ScanSpec(
        6, 60, "backbeat", 1, max_seconds=240, redis_url=redis_url, postgres_url=postgres_url
    )
    found = bench_scan(spec, tmp_path)
    assert found["jobs_failed"] == 0
    assert found["jobs_total"] == 12  # an organizer scan and an ingest per user
    assert found["http_429"] == 0
    assert found["max_in_window"] <= found["limit"]
    assert 0 < found["upstream_calls"] <= found["logical_calls"]  # the cache answered some
    assert found["interactive_calls"] > 0


def test_the_backbeat_settings_leave_the_caller_environment_alone() -> None:
    import os

    from backbeat.bench.scan_system import environment

    before = dict(os.environ)
    with environment({"BACKBEAT_REDIS_URL": "redis://elsewhere:1/0", "HOME": "/nowhere"}):
        assert os.environ["BACKBEAT_REDIS_URL"] == "redis://elsewhere:1/0"
    assert dict(os.environ) == before
