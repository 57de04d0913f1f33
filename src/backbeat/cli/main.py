"""Entry point of the `backbeat` command; each command group lives in its own module."""

from __future__ import annotations

import typer

from backbeat.cli import bench, config, db, demo, keys, plan, process, simulator

app = typer.Typer(
    name="backbeat",
    help="A backend for multi-user Spotify apps: one shared upstream budget, no 429s.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(simulator.app, name="simulator")
app.add_typer(bench.app, name="bench")
app.add_typer(db.app, name="migrate")
app.add_typer(config.app, name="config")
app.add_typer(keys.app, name="keys")
app.command("demo")(demo.demo)
app.command("plan")(plan.plan)
app.command("serve")(process.serve)
app.command("worker")(process.worker)
app.command("scheduler")(process.scheduler)


if __name__ == "__main__":
    app()
