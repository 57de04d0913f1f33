"""`backbeat plan --users N [--json]`: the daily fan-out for N users — the organizer's scan and,
unless `--no-ingest`, the listening ingest fired at the same hour — calls per user, the scan
window the budget needs, and how many users a day the budget allows, per class (and for the
window over every call, when the app has one)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from backbeat.config import Settings
from backbeat.domain.organizer import estimate_calls, estimate_ingest_calls, fan_out_plan


def plan(
    users: Annotated[int, typer.Option(min=0, help="Users to scan.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    development: Annotated[
        bool, typer.Option(help="A development-mode app: no batch gets, 5 users.")
    ] = False,
    new_likes: Annotated[float, typer.Option(min=0, help="New liked songs per user.")] = 20,
    ingest: Annotated[
        bool, typer.Option(help="Count the daily listening ingest, which shares the budget.")
    ] = True,
) -> None:
    """Plan the daily scan of every user's liked songs within the upstream budget."""
    settings = Settings()
    calls = estimate_calls(new_likes=new_likes, development=development)
    if ingest:
        calls += estimate_ingest_calls()
    planned = fan_out_plan(
        users,
        settings.ratelimit,
        calls,
        share=settings.organizer.budget_share,
        development=development,
    )
    if as_json:
        typer.echo(json.dumps(planned.as_json()))
        return
    hours = planned.scan_window_s / 3600
    typer.echo(f"users: {planned.users}  calls per user: {planned.calls.total:.1f}")
    typer.echo(
        f"scan window: {planned.scan_window_s:.0f} s ({hours:.2f} h), bound by the "
        f"{planned.binding_class} class"
    )
    typer.echo(f"users per day the budget allows: {planned.users_per_day_max}")
    for item in planned.classes:
        typer.echo(
            f"  {item.op_class:<6} {item.calls_per_user:5.1f} calls/user  "
            f"{item.limit}/{item.period_s:g}s → window {item.window_s:.0f} s, "
            f"at most {item.users_per_day_max} users/day"
        )
    if not planned.fits_in_a_day:
        typer.secho("the scan does not fit in a day at this budget", fg="red")
