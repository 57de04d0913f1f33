"""`backbeat demo`: start everything on embedded defaults, log N simulated users in, run their
daily scans at a time scale while searching as a user would, show it live, summarize, and
leave the API and the dashboard running until Ctrl-C (or exit with `--exit`)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backbeat.demo import DemoSystem


async def _run(system: DemoSystem, show: bool) -> None:
    assert system.settings is not None
    report = system.report
    async with system.driver(system.settings) as (services, runtime):
        api_tokens = await system.log_in(services)
        created = await system.daily_scan(runtime)
        stop = asyncio.Event()
        searches = asyncio.create_task(system.search_meanwhile(api_tokens, stop))
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not show,
        )
        jobs = progress.add_task("jobs done", total=created)
        budget = progress.add_task("busiest window", total=report.limit)
        line = progress.add_task("", total=None)
        with progress:
            while True:
                await system.observe(runtime)
                done = report.jobs_succeeded + report.jobs_failed
                progress.update(jobs, completed=done, total=max(created, report.jobs_total))
                progress.update(budget, completed=report.max_in_window, total=report.limit)
                p50 = report.summary()["interactive_p50_ms"]
                progress.update(
                    line,
                    description=f"upstream calls {report.upstream_calls}  429s {report.http_429}"
                    f"  failed jobs {report.jobs_failed}  searches {len(report.latencies_ms)}"
                    f" (p50 {p50} ms)",
                )
                if report.done:
                    break
                await asyncio.sleep(0.5)
        stop.set()
        await searches
        report.finished = report.finished or time.monotonic()


def demo(
    users: Annotated[int, typer.Option(min=1, help="Simulated users.")] = 200,
    time_scale: Annotated[
        float, typer.Option(min=1, help="Every window and delay divided by this.")
    ] = 60.0,
    port: Annotated[int | None, typer.Option(help="The API's port (default: a free one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON.")] = False,
    exit_after: Annotated[
        bool, typer.Option("--exit", help="Exit after the summary instead of serving.")
    ] = False,
) -> None:
    """The whole system on one machine: N users' daily scans at full budget, 0 × 429."""
    console = Console(stderr=as_json)
    system = DemoSystem(users, time_scale, port)
    with system.servers() as settings:
        admin = settings.auth.admin_token
        if not as_json:
            console.print(
                f"[bold]backbeat demo[/] — {users} users, time ×{time_scale:g}; simulator "
                f"{system.sim_url}, API {system.api_url}"
            )
        asyncio.run(_run(system, show=not as_json))
        summary = system.report.summary()
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            console.print_json(json.dumps(summary))
        failed = summary["jobs_failed"] or summary["http_429"]
        if exit_after:
            if failed or summary["max_in_window"] > summary["limit"]:
                raise typer.Exit(1)
            return
        token = admin.get_secret_value() if admin else ""
        console.print(
            f"\nAPI docs: {system.api_url}/docs  dashboard: {system.api_url}/dashboard "
            f"(admin token {token})\nCtrl-C to stop."
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")
