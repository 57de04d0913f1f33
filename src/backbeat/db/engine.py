"""Engines and sessions, built from settings by whoever owns the process's lifetime.

    async with open_database(settings) as db:
        async with db.sessions() as session, session.begin():
            ...

No module holds an engine: the FastAPI lifespan or the worker start-up opens one per process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backbeat.config import DatabaseSettings, Settings
from backbeat.db.crypto import TokenCipher, install_cipher


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # a URI filename: left to SQLite
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless told, per connection; WAL lets readers run beside
    # the one writer, and NORMAL sync is durable enough under WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_bare_engine(database: DatabaseSettings) -> AsyncEngine:
    """An engine without a token cipher: for migrations and tools that never read tokens."""
    options: dict[str, Any] = {"echo": database.echo, "pool_pre_ping": database.pool_pre_ping}
    path = _sqlite_file(database.url)
    url = make_url(database.url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() != "sqlite" or path is not None:
        # An in-memory SQLite database has a single static connection and takes no pool options.
        options |= {
            "pool_size": database.pool_size,
            "max_overflow": database.max_overflow,
            "pool_timeout": database.pool_timeout,
            "pool_recycle": database.pool_recycle,
        }
    engine = create_async_engine(database.url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_engine(settings: Settings, *, cipher: TokenCipher | None = None) -> AsyncEngine:
    """The application's engine: `settings.database`, with the token cipher (`cipher`, else
    one from `settings.security`). Outside development, no token keys is a
    `ConfigurationError` here: the process refuses to start."""
    cipher = cipher or TokenCipher.from_settings(settings)
    engine = create_bare_engine(settings.database)
    install_cipher(engine, cipher)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay usable after commit: async code cannot lazy-load expired attributes.
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def open_database(
    settings: Settings, *, cipher: TokenCipher | None = None
) -> AsyncIterator[Database]:
    """The engine and its session factory for as long as the block runs; the pool is closed
    on the way out."""
    engine = create_engine(settings, cipher=cipher)
    try:
        yield Database(engine, session_factory(engine))
    finally:
        await engine.dispose()
