"""`backbeat bench …`: benchmarks run for real; `--json` prints one object and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from backbeat.cli import bench_api

app = typer.Typer(help="Benchmarks: real processes on a real store, with baselines.")
SERIES = ("per_window", "interactive_realtime_ms")  # in --json, too long to print as text
PostgresUrl = Annotated[
    str, typer.Option(help="Postgres server; a scratch database is made and dropped.")
]
Logs = Annotated[
    Path | None, typer.Option(help="Keep the processes' logs here (default: discarded).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
TimeScale = Annotated[float, typer.Option(min=1, help="Simulator and limits sped up.")]
Report = dict[str, Any]


@app.command()
def limiter(
    redis_url: Annotated[
        str, typer.Option(help="Redis to share (use a scratch DB: keys are removed after).")
    ] = "redis://127.0.0.1:6379/15",
    processes: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 4,
    coroutines: Annotated[int, typer.Option(min=1, help="NORMAL coroutines per process.")] = 8,
    seconds: Annotated[
        float, typer.Option(min=1, help="Length of backbeat's run; a multiple of --window.")
    ] = 10.0,
    limit: Annotated[int, typer.Option(min=1, help="Grants allowed per window.")] = 50,
    window: Annotated[float, typer.Option(min=1, help="Window, whole seconds.")] = 2.0,
    high: Annotated[
        bool, typer.Option(help="One HIGH coroutine in process 0, every 100–300 ms.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """The global limiter across processes against `limits` and PyrateLimiter, same Redis."""
    # Imported here: the bench spawns processes and pulls in Redis clients, `backbeat --help`
    # should not.
    from backbeat.bench.limiter import Scenario
    from backbeat.bench.limiter_bench import bench_limiter

    if window != int(window):
        raise typer.BadParameter(
            "whole seconds only (the unit of limits' windows)", param_hint="--window"
        )
    scenario = Scenario(redis_url, processes, coroutines, seconds, limit, window, high)
    report = bench_limiter(scenario)
    if as_json:
        typer.echo(json.dumps(report))
        return
    goals = report["goals"]
    typer.echo(
        f"{report['processes']} processes × {report['coroutines']} coroutines, "
        f"{report['limit']} per {report['window_s']:g} s, {report['seconds']:g} s"
        + (" + 1 HIGH" if report["high"] else "")
    )
    typer.echo(
        f"  grants {report['grants']} of {report['budget']:g}: utilization "
        f"{report['utilization']:.1%} ({_mark(goals['utilization_at_least_0_97'])} ≥ 97 %)"
    )
    typer.echo(
        f"  busiest {report['window_s']:g}-s window: {report['max_in_window']} "
        f"({_mark(goals['max_in_window_within_limit'])} ≤ {report['limit']})"
    )
    typer.echo(
        f"  round trip p50/p99 ms: backbeat {report['acquire_p50_ms']}/{report['acquire_p99_ms']}"
        f", limits {report['limits_p50_ms']}/{report['limits_p99_ms']}"
        f", pyrate {report['pyrate_p50_ms']}/{report['pyrate_p99_ms']}"
        f" (backbeat/limits p50 ×{report['p50_ratio_vs_limits']}:"
        f" {_mark(goals['p50_within_1_5x_limits'])} ≤ 1.5)"
    )
    if report["high"]:
        typer.echo(
            f"  HIGH: {report['high_calls']} calls, wait p99 {report['high_wait_p99_ms']} ms,"
            f" {report['high_timeouts']} timeouts"
        )
    for error in report["errors"]:
        typer.echo(f"  error: {error}")


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


@app.command()
def organizer(
    users: Annotated[int, typer.Option(min=1, help="Simulated users to scan.")] = 60,
    time_scale: TimeScale = 30,
    workers: Annotated[int, typer.Option(min=1, help="Scans at once.")] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """The daily organizer scan of N users against its plan (goal: within 10 %, 0 × 429)."""
    import asyncio

    from backbeat.bench.organizer_bench import bench_organizer

    report = asyncio.run(bench_organizer(users, time_scale, workers))
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(
        f"{report['users']} users at ×{report['time_scale']:g}: {report['elapsed_s']} s measured, "
        f"{report['planned_s']} s planned (ratio {report['ratio']}), bound by "
        f"{report['binding_class']}; 429s: {report['http_429']}, failed users: "
        f"{report['failed_users']}"
    )


@app.command()
def scan(
    users: Annotated[int, typer.Option(min=1, help="Simulated users to scan.")] = 300,
    time_scale: TimeScale = 60,
    strategy: Annotated[
        str, typer.Option(help="backbeat, serial-worker, per-process or naive.")
    ] = "backbeat",
    processes: Annotated[int, typer.Option(min=1, help="Worker processes (or threads).")] = 4,
    margin: Annotated[
        float | None,
        typer.Option(
            min=0, help="backbeat's limiter margin, real seconds (the bench's default: 0.005)."
        ),
    ] = None,
    max_seconds: Annotated[
        float, typer.Option(min=10, help="Stop a strategy still running after this long.")
    ] = 900.0,
    redis_url: Annotated[str, typer.Option(help="Redis (backbeat strategy; scratch DB).")] = (
        "redis://127.0.0.1:6379/14"
    ),
    postgres_url: PostgresUrl = "postgresql://postgres@127.0.0.1:5432/postgres",
    logs: Logs = None,
    as_json: AsJson = False,
) -> None:
    """The daily scan of N users with interactive calls beside it, for one strategy."""
    from backbeat.bench.scan import MARGIN, STRATEGIES, ScanSpec, bench_scan

    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"one of {', '.join(STRATEGIES)}", param_hint="--strategy")
    spec = ScanSpec(
        users,
        time_scale,
        strategy,
        processes,
        margin=MARGIN if margin is None else margin,
        max_seconds=max_seconds,
        redis_url=redis_url,
        postgres_url=postgres_url,
    )
    report = _with_logs("backbeat-scan-", logs, lambda folder: bench_scan(spec, folder))
    _show(report, as_json, [f"{k}: {v}" for k, v in report.items() if k not in SERIES])


def _with_logs(prefix: str, logs: Path | None, run: Callable[[Path], Report]) -> Report:
    """`run` with the folder for the processes' logs: `logs`, else a scratch one."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        return run(logs or Path(scratch))


def _show(report: Report, as_json: bool, text: list[str]) -> None:
    """The report as one JSON object, or as `text`."""
    for line in [json.dumps(report)] if as_json else text:
        typer.echo(line)


@app.command()
def catalog(
    users: Annotated[int, typer.Option(min=1, help="Simulated users.")] = 200,
    processes: Annotated[int, typer.Option(min=1, help="`backbeat serve` processes.")] = 2,
    time_scale: TimeScale = 30,
    zipf: Annotated[
        float, typer.Option(min=0.01, help="Favourite artists' Zipf exponent (1/rank^s).")
    ] = 1.1,
    favourites: Annotated[int, typer.Option(min=1, help="Favourite artists per user.")] = 5,
    concurrency: Annotated[int, typer.Option(min=1, help="Users active at once.")] = 8,
    redis_url: Annotated[
        str, typer.Option(help="Redis (a DB of the bench's own: shared cache keys are removed).")
    ] = "redis://127.0.0.1:6379/13",
    postgres_url: PostgresUrl = "postgresql://postgres@127.0.0.1:5432/postgres",
    logs: Logs = None,
    as_json: AsJson = False,
) -> None:
    """Ranker + recommendations of N users on a shared catalog: calls asked vs sent upstream."""
    from backbeat.bench.catalog import CatalogSpec, bench_catalog

    spec = CatalogSpec(
        users,
        processes,
        time_scale,
        zipf=zipf,
        favourites=favourites,
        concurrency=concurrency,
        redis_url=redis_url,
        postgres_url=postgres_url,
    )
    report = _with_logs("backbeat-catalog-", logs, lambda folder: bench_catalog(spec, folder))
    text = []
    for key, value in report.items():  # the per-endpoint and per-route tables a row a line
        rows = value.items() if isinstance(value, dict) else ()
        text += [f"{key}:" if rows else f"{key}: {value}", *(f"  {n}: {r}" for n, r in rows)]
    _show(report, as_json, text)


@app.command()
def report(
    users: Annotated[int, typer.Option(min=1, help="Simulated users per scan.")] = 150,
    # ×30: at ×60 two cores run out before the budget does (host_cpu_busy near 1).
    time_scale: TimeScale = 30,
    processes: Annotated[int, typer.Option(min=1, help="Worker processes (or threads).")] = 4,
    max_seconds: Annotated[
        float, typer.Option(min=10, help="Stop a strategy still running after this long.")
    ] = 150.0,
    doc: Annotated[Path, typer.Option(help="The Markdown file to write.")] = Path(
        "docs/benchmarks.md"
    ),
) -> None:
    """Every scan strategy in one run, written into docs/benchmarks.md with plots."""
    from backbeat.bench.report import run_suite, write_report

    reports = run_suite(users, time_scale, processes, max_seconds, progress=typer.echo)
    write_report(reports, doc)
    typer.echo(f"wrote {doc} and its plots")


# `bench api` lives in its own module (its options and summary are long); registered here.
app.command()(bench_api.api)
