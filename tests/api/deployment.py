"""A deployment for API tests: the simulator and backbeat's API as real servers on loopback,
backbeat with embedded job consumers on a SQLite file; browsers that log in through the
simulator's consent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from backbeat.api import create_app
from backbeat.config import (
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer, free_port

ADMIN_TOKEN = "e2e-admin-token"


@dataclass(frozen=True)
class Deployment:
    api: str
    settings: Settings
    simulator: str


@pytest.fixture
def deployment(tmp_path: Path, token_key: str) -> Iterator[Deployment]:
    with BackgroundServer(create_simulator(SimulatorSettings(artists=60, users=20))) as sim:
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        settings = Settings(
            environment="test",
            redis_url=None,
            database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'app.db'}"),
            security=SecuritySettings(token_keys=[token_key]),
            auth=AuthSettings(
                session_secret="e2e-secret",
                admin_token=ADMIN_TOKEN,
                ingest_rate="3/600",  # a fourth ingest in ten minutes is refused
                redirect_uri=f"{api}/auth/callback",
                cookie_secure=False,  # plain HTTP on loopback
            ),
            spotify=SpotifySettings(api_url=f"{sim.url}/v1", accounts_url=sim.url),
            reccobeats=ReccoBeatsSettings(url=f"{sim.url}/reccobeats"),
            jobs=JobsSettings(var_dir=str(tmp_path / "var"), poll_max_delay=0.05),
        )
        with BackgroundServer(create_app(settings), port=port):
            yield Deployment(api, settings, sim.url)


@pytest.fixture
async def alice(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(deployment) as client:
        response = await client.get("/auth/login")  # follows: Spotify's consent, the callback
        assert response.status_code == 200, response.text
        assert str(response.url) == f"{deployment.api}/api/users/me"
        assert "backbeat_session" in client.cookies
        yield client


def browser(deployment: Deployment) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=deployment.api, follow_redirects=True, timeout=30)


async def log_in_as(client: httpx.AsyncClient, sim_user: str) -> dict[str, Any]:
    """The same login, choosing which simulated Spotify user consents."""
    started = await client.get("/auth/login", follow_redirects=False)
    assert started.status_code == 302
    consent = f"{started.headers['location']}&sim_user={sim_user}"
    response = await client.get(consent)
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    return me


async def finished(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        task: dict[str, Any] = (await client.get(f"/api/tasks/{task_id}")).json()
        if task["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return task
        await asyncio.sleep(0.1)  # polling the server, as a client does
