"""`backbeat bench api`: HTTP load on the API from a separate load-generator process (see
backbeat.bench.api_bench). Registered on `backbeat bench` by backbeat.cli.bench."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def api(
    seconds: Annotated[
        float, typer.Option(min=0.5, help="Measured seconds per endpoint (after a warm-up).")
    ] = 10.0,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Requests the load generator keeps in flight.")
    ] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Requests per second and latency of a bare route, an authenticated one, a cached search
    and an uncached one, on one API process, from a separate load-generator process."""
    # Imported here: the bench starts servers and spawns processes, `backbeat --help` should not.
    from backbeat.bench.api_bench import bench_api

    report = bench_api(seconds, concurrency)
    if as_json:
        typer.echo(json.dumps(report))
        return
    for line in summary(report):
        typer.echo(line)


def summary(report: dict[str, Any]) -> list[str]:
    """The report as a few lines of text: one row per endpoint."""
    lines = [
        f"{report['concurrency']} requests in flight, {report['seconds']:g} s per endpoint "
        f"in {report['rounds']} turns (after {report['warmup_s']:g} s of warm-up), "
        f"{report['users']} users; "
        f"{report['server']}",
        f"{'endpoint':<8} {'path':<13} {'req/s':>8} {'× bare':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'upstream':>8} {'srv ms/req':>10} {'× bare':>7}  "
        "cpu server/client/simulator",
    ]
    for name, row in report["endpoints"].items():
        cpu = "/".join("-" if row[k] is None else f"{row[k]:.2f}" for k in _CPU)
        lines.append(
            f"{name:<8} {row['path']:<13} {row['requests_per_s']:>8.1f} "
            f"{_number(row['rps_ratio_vs_bare']):>7} {_number(row['p50_ms']):>8} "
            f"{_number(row['p99_ms']):>8} {row['errors']:>6} {row['upstream_calls']:>8} "
            f"{_number(row['server_cpu_ms_per_request']):>10} "
            f"{_number(row['cpu_ratio_vs_bare']):>7}  {cpu}"
        )
        if row["errors_by_status"]:
            lines.append(f"  errors: {row['errors_by_status']}")
    before, after = report["load_average_1m"]
    lines.append(f"machine load (1-min average): {_number(before)} → {_number(after)}")
    return lines


_CPU = ("server_cpu", "client_cpu", "simulator_cpu")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
