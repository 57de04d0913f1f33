"""Engines from settings: the database URL's sources and forms, SQLite's pragmas, pool options."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

from backbeat.config import DatabaseSettings, Settings
from backbeat.db.engine import create_bare_engine, open_database


@pytest.fixture
def no_database_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BACKBEAT_DATABASE__URL", raising=False)
    return monkeypatch


def test_database_url_from_the_environment(no_database_env: pytest.MonkeyPatch) -> None:
    assert Settings().database.url == "sqlite+aiosqlite:///var/backbeat.db"
    no_database_env.setenv("DATABASE_URL", "postgres://app:pw@db.example:5432/backbeat")
    assert Settings().database.url == "postgresql+asyncpg://app:pw@db.example:5432/backbeat"
    no_database_env.setenv(
        "BACKBEAT_DATABASE__URL", "postgresql://other/db"
    )  # the explicit one wins
    assert Settings().database.url == "postgresql+asyncpg://other/db"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
    ],
)
def test_urls_get_the_async_drivers(given: str, used: str) -> None:
    assert DatabaseSettings(url=given).url == used


@pytest.mark.parametrize("url", ["mysql://h/db", "postgresql+psycopg2://h/db", "backbeat.db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="sqlite:// or postgresql://"):
        DatabaseSettings(url=url)


async def test_the_default_sqlite_file_is_created_under_var_with_its_pragmas(
    tmp_path: Path, no_database_env: pytest.MonkeyPatch
) -> None:
    no_database_env.chdir(tmp_path)
    async with open_database(Settings()) as db:
        for _ in range(2):  # every pooled connection, not only the first
            async with db.engine.connect() as one, db.engine.connect() as two:
                for connection in (one, two):
                    assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
                    assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
    assert (tmp_path / "var" / "backbeat.db").is_file()


def test_pool_options_reach_the_engine() -> None:
    database = DatabaseSettings(url="postgresql://h/db", pool_size=7, max_overflow=3, echo=True)
    engine = create_bare_engine(database)
    assert isinstance(engine.pool, AsyncAdaptedQueuePool)
    assert (engine.pool.size(), engine.pool._max_overflow, engine.echo) == (7, 3, True)
    # An in-memory SQLite database has one static connection and takes no pool options.
    memory = create_bare_engine(DatabaseSettings(url="sqlite://", pool_size=7))
    assert isinstance(memory.pool, StaticPool)
