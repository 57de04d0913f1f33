"""`backbeat keys rotate`: re-encrypt every stored token under the newest key.

Rotation, in order: put the new key FIRST in `BACKBEAT_SECURITY__TOKEN_KEYS` on every process
(old keys after it still decrypt), run `backbeat keys rotate`, then drop the old key."""

from __future__ import annotations

import asyncio

import typer

from backbeat.config import Settings
from backbeat.db.crypto import rotate as rotate_tokens
from backbeat.db.engine import open_database
from backbeat.db.models import Base
from backbeat.errors import ConfigurationError

app = typer.Typer(help="Keys of tokens at rest.")


@app.command()
def rotate() -> None:
    """Re-encrypt stored tokens under the first key of BACKBEAT_SECURITY__TOKEN_KEYS."""
    settings = Settings()
    if not settings.security.token_keys:
        typer.echo("BACKBEAT_SECURITY__TOKEN_KEYS is empty: nothing to rotate to", err=True)
        raise typer.Exit(2)

    async def run() -> int:
        async with open_database(settings) as database:
            return await rotate_tokens(database.engine, Base.metadata)

    try:
        changed = asyncio.run(run())
    except ConfigurationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{changed} stored values re-encrypted under the newest key")
