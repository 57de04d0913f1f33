"""Shared test settings: services that must exist in CI (`BACKBEAT_REQUIRE_SERVICES=1`), and
databases: a temporary SQLite file, or a fresh Postgres database per test (created on the
`postgres_url` server, dropped afterwards, so parallel runs never meet)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from backbeat.config import DatabaseSettings, SecuritySettings, Settings
from backbeat.db import migrations
from backbeat.db.engine import Database, open_database

REQUIRE_SERVICES = os.environ.get("BACKBEAT_REQUIRE_SERVICES", "") not in ("", "0", "false")


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a server is absent locally; fail when CI said it must be there."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as error:
        message = f"{name} is not reachable on {host}:{port} ({error})"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return os.environ.get("BACKBEAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def postgres_url() -> str:
    """A server and an administrative database; tests create and drop their own databases."""
    require_service("Postgres", "127.0.0.1", 5432)
    return os.environ.get(
        "BACKBEAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


BACKENDS = ["sqlite", "postgres"]


async def _admin(server_url: str) -> asyncpg.Connection:
    url = make_url(server_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """The URL of an empty database that exists for one test."""
    name = f"backbeat_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backbeat.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def settings(database_url: str, token_key: str) -> Settings:
    return Settings(
        environment="test",
        database=DatabaseSettings(url=database_url),
        security=SecuritySettings(token_keys=[token_key]),
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """An open database migrated to head."""
    async with open_database(settings) as db:
        await migrations.upgrade(db.engine)
        yield db


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """Commands run in-process (CliRunner) configure the root logger with streams that close
    after the call: put the root logger back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backbeat fault suite")
    group.addoption(
        "--long-faults", action="store_true", help="run the fault suite's long variants"
    )
    group.addoption(
        "--reliability-report",
        default=None,
        metavar="PATH",
        help="write what the fault suite injected and observed to PATH (docs/reliability.md)",
    )
