"""Alembic's entry script. backbeat passes a connection (`backbeat.db.migrations`); run by
Alembic's own command line, it connects to the URL of the settings (`BACKBEAT_DATABASE__URL`
or `DATABASE_URL`)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from backbeat.config import Settings
from backbeat.db.crypto import EncryptedText
from backbeat.db.engine import create_bare_engine
from backbeat.db.models import Base, JSONType, UTCDateTime


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations spell out plain SQLAlchemy types, so later changes to backbeat's column types
    # (or their modules moving) never change what an old migration creates.
    if kind != "type":
        return False
    if isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(item, EncryptedText):
        return "sa.Text()"
    if item is JSONType:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        render_as_batch=True,  # ALTERs as table copies on SQLite; plain ALTERs elsewhere
        render_item=render_item,
        compare_type=True,
        **options,
    )


def run(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = create_bare_engine(Settings().database)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    configure(url=Settings().database.url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := context.config.attributes.get("connection")) is not None:
    run(given)
else:
    asyncio.run(run_standalone())
