"""Shared test settings: services that must exist in CI (`BACKBEAT_REQUIRE_SERVICES=1`)."""

from __future__ import annotations

import os
import socket

import pytest

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
