"""`backbeat migrate [upgrade|downgrade] [REVISION]`: the database schema, by Alembic.

`backbeat migrate` alone upgrades to the newest revision. Migrations need no token keys: they
change tables, never read tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from backbeat.config import Settings
from backbeat.db import migrations
from backbeat.db.engine import create_bare_engine

app = typer.Typer(help="Migrate the database (SQLite or Postgres, from the settings).")

T = TypeVar("T")


def _with_engine(step: Callable[[AsyncEngine], Awaitable[T]]) -> tuple[str, T]:
    """Run `step` on an engine for the configured database; also return where that is."""
    database = Settings().database
    where = make_url(database.url).render_as_string(hide_password=True)

    async def run() -> T:
        engine = create_bare_engine(database)
        try:
            return await step(engine)
        finally:
            await engine.dispose()

    try:
        return where, asyncio.run(run())
    except (OSError, DBAPIError) as error:  # unreachable server, missing database, refused login
        typer.echo(f"cannot migrate {where}: {getattr(error, 'orig', None) or error}", err=True)
        raise typer.Exit(1) from None


def _migrate(step: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    async def then_current(engine: AsyncEngine) -> str | None:
        await step(engine)
        return await migrations.current_revision(engine)

    where, revision = _with_engine(then_current)
    head = " (head)" if revision == migrations.head_revision() else ""
    typer.echo(f"{where} is at revision {revision or 'base'}{head}")


@app.callback(invoke_without_command=True)
def migrate(context: typer.Context) -> None:
    """Upgrade to the newest revision unless a command says otherwise."""
    if context.invoked_subcommand is None:
        _migrate(lambda engine: migrations.upgrade(engine, "head"))


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION."""
    _migrate(lambda engine: migrations.upgrade(engine, revision))


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target; `base` drops every table.")] = "-1",
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    _migrate(lambda engine: migrations.downgrade(engine, revision))


@app.command()
def revision(
    message: Annotated[str, typer.Argument(help="What the migration does.")],
    autogenerate: Annotated[
        bool, typer.Option(help="Diff the models against the database.")
    ] = True,
) -> None:
    """Write a new migration (in a source checkout; the database must be at head)."""
    _, path = _with_engine(
        lambda engine: migrations.revision(engine, message, autogenerate=autogenerate)
    )
    typer.echo(f"wrote {path}; review it and `ruff format` it before committing")
