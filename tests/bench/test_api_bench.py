"""`backbeat bench api` runs end to end on a short load and reports what it measured (how fast
each endpoint is, and how it compares with the bare route, is the benchmark's, not a test's)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from backbeat.bench import api_bench
from backbeat.bench.api_bench import ENDPOINTS, bench_api
from backbeat.cli.bench_api import api, summary

FIGURES = {
    "path",
    "elapsed_s",
    "requests",
    "ok",
    "requests_per_s",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "errors",
    "errors_by_status",
    "upstream_calls",
    "upstream_429",
    "limiter_wait_p99_ms",
    "client_cpu",
    "server_cpu",
    "simulator_cpu",
    "server_cpu_ms_per_request",
    "client_cpu_ms_per_request",
    "rps_ratio_vs_bare",
    "p50_ratio_vs_bare",
    "cpu_ratio_vs_bare",
}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return bench_api(1.0, 4, warmup=0.5, rounds=2, users=2)


def test_every_endpoint_is_measured_without_errors(report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(report)) == report
    given = ("seconds", "rounds", "concurrency", "users")
    assert tuple(report[key] for key in given) == (1.0, 2, 4, 2)
    assert report["errors"] == 0
    assert len(report["load_average_1m"]) == 2
    assert tuple(report["endpoints"]) == ENDPOINTS
    for name, row in report["endpoints"].items():
        assert set(row) == FIGURES, name
        assert row["requests"] > 0, name
        assert (row["ok"], row["errors"], row["errors_by_status"]) == (row["requests"], 0, {})
        assert row["elapsed_s"] >= report["seconds"]
        assert row["requests_per_s"] > 0
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["rps_ratio_vs_bare"] > 0
        assert row["upstream_429"] == 0
    assert report["endpoints"]["bare"]["rps_ratio_vs_bare"] == 1.0


def test_the_cached_search_stays_off_the_upstream_and_the_miss_always_goes(
    report: dict[str, Any],
) -> None:
    endpoints = report["endpoints"]
    assert endpoints["bare"]["upstream_calls"] == 0
    assert endpoints["auth"]["upstream_calls"] == 0
    assert endpoints["cached"]["upstream_calls"] == 0
    assert endpoints["miss"]["upstream_calls"] == endpoints["miss"]["requests"]


def test_the_summary_has_a_row_per_endpoint(report: dict[str, Any]) -> None:
    lines = summary(report)
    for name in ENDPOINTS:
        assert any(line.startswith(name) for line in lines)


def test_the_command_passes_its_options_and_prints_one_json_object(
    monkeypatch: pytest.MonkeyPatch, report: dict[str, Any]
) -> None:
    calls: list[tuple[float, int]] = []

    def fake(seconds: float, concurrency: int) -> dict[str, Any]:
        calls.append((seconds, concurrency))
        return report

    monkeypatch.setattr(api_bench, "bench_api", fake)
    command = typer.Typer()
    command.command()(api)
    runner = CliRunner()
    result = runner.invoke(command, ["--seconds", "3", "--concurrency", "8", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == report
    assert calls == [(3.0, 8)]
    result = runner.invoke(command, [])
    assert result.exit_code == 0, result.output
    assert "bare" in result.output
    assert calls[-1] == (10.0, 16)
