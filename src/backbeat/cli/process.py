"""`backbeat serve`, `backbeat worker` and `backbeat scheduler`: the long-running processes.

Embedded mode (no Redis URL): `serve` alone runs the API and consumes every queue (SQLite
queues under `var/`). Distributed mode (`BACKBEAT_REDIS_URL`): any number of `serve` and
`worker` processes share the Redis queues, and `scheduler` processes fire the periodic tasks —
one at a time, the others standing by.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from backbeat.config import Settings
from backbeat.errors import ConfigurationError
from backbeat.logs import configure_logging


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        typer.echo(f"invalid settings: {error}", err=True)
        raise typer.Exit(2) from None


def _logging() -> None:
    configure_logging(_settings())


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    consumers: Annotated[
        str | None, typer.Option(help="Job consumers in this process: auto, on or off.")
    ] = None,
) -> None:
    """Run the API (with the job consumers inside it in embedded mode)."""
    from backbeat.api import create_app

    _logging()
    settings = _settings()
    api = settings.api.model_copy(
        update={
            name: value
            for name, value in {"host": host, "port": port, "consumers": consumers}.items()
            if value is not None
        }
    )
    if api.consumers not in ("auto", "on", "off"):
        raise typer.BadParameter("--consumers must be auto, on or off")
    settings = settings.model_copy(update={"api": api})
    uvicorn.run(create_app(settings), host=api.host, port=api.port, log_config=None)


def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues to consume.")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker threads per queue (default: settings).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Consume job queues until SIGINT or SIGTERM (graceful: running jobs finish)."""
    from backbeat.jobs.host import run_worker

    _logging()
    settings = _settings()
    names = [name.strip() for name in queues.split(",") if name.strip()]
    unknown = sorted(set(names) - set(settings.jobs.queues))
    if not names or unknown:
        known = ", ".join(settings.jobs.queues)
        raise typer.BadParameter(f"unknown queues {', '.join(unknown) or '(none)'}; known: {known}")
    try:
        run_worker(settings, names, workers=workers, metrics_port=metrics_port)
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def scheduler(
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Fire the periodic tasks (one scheduler at a time holds the lease; others stand by)."""
    from backbeat.jobs.host import run_scheduler

    _logging()
    try:
        run_scheduler(_settings(), metrics_port=metrics_port)
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
