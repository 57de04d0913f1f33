"""The listening-insights app end to end, over HTTP, against the simulator: log in through the
simulator's consent, ingest, read the snapshot, generate each insight type, read them back; a
second user sees none of it. The API is a real server with its embedded job consumers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

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
from backbeat.db.engine import open_database
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer, free_port


@dataclass(frozen=True)
class Deployment:
    api: str
    settings: Settings


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
                redirect_uri=f"{api}/auth/callback",
                cookie_secure=False,  # plain HTTP on loopback
            ),
            spotify=SpotifySettings(api_url=f"{sim.url}/v1", accounts_url=sim.url),
            reccobeats=ReccoBeatsSettings(url=f"{sim.url}/reccobeats"),
            jobs=JobsSettings(var_dir=str(tmp_path / "var"), poll_max_delay=0.05),
        )
        with BackgroundServer(create_app(settings), port=port):
            yield Deployment(api, settings)


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


async def test_login_ingest_insights_and_isolation(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    me = (await alice.get("/api/users/me")).json()
    assert me["spotify_id"].startswith("user")
    assert me["needs_relogin"] is False

    accepted = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    assert accepted.status_code == 202
    ingest = await finished(alice, accepted.json()["task_id"])
    assert ingest["status"] == "succeeded", ingest
    snapshot_id = ingest["result"]["snapshot_id"]

    snapshots = (await alice.get("/api/listening/snapshots")).json()
    assert [s["snapshot_id"] for s in snapshots] == [snapshot_id]
    snapshot = snapshots[0]
    assert snapshot["time_range"] == "short_term"
    assert snapshot["track_count"] > 0
    assert 0 <= snapshot["mood_diversity"] <= 1

    insights = {}
    for insight_type, tone in [("wellness", "supportive"), ("roast", "savage"),
                               ("productivity", "coach")]:  # fmt: skip
        accepted = await alice.post(
            "/api/insights/generate", json={"insight_type": insight_type, "tone_mode": tone}
        )
        assert accepted.status_code == 202, accepted.text
        task = await finished(alice, accepted.json()["task_id"])
        assert task["status"] == "succeeded", task
        insight = (await alice.get(f"/api/insights/{task['result']['insight_id']}")).json()
        assert (insight["insight_type"], insight["tone"]) == (insight_type, tone)
        assert insight["snapshot_id"] == snapshot_id
        assert insight["content"]["headline"]
        insights[insight_type] = insight["insight_id"]
    listed = (await alice.get("/api/insights")).json()
    assert {item["insight_id"] for item in listed} == set(insights.values())

    async with browser(deployment) as bob:
        bobs = await log_in_as(bob, "user0007")
        assert bobs["user_id"] != me["user_id"]
        for path in [
            f"/api/tasks/{ingest['task_id']}",
            f"/api/listening/snapshots/{snapshot_id}",
            *(f"/api/insights/{insight_id}" for insight_id in insights.values()),
        ]:
            response = await bob.get(path)
            assert response.status_code == 404, path
        assert (await bob.get("/api/listening/snapshots")).json() == []
        stolen = await bob.post(
            "/api/insights/generate", json={"insight_type": "roast", "snapshot_id": snapshot_id}
        )
        assert stolen.status_code == 404

    # Tokens at rest: the raw rows hold Fernet tokens, never the tokens themselves.
    key = deployment.settings.security.token_keys[0].get_secret_value()
    async with open_database(deployment.settings) as database, database.engine.connect() as raw:
        rows = (
            await raw.execute(text("SELECT access_token, refresh_token FROM spotify_tokens"))
        ).all()
    assert len(rows) == 2
    for stored in (value for row in rows for value in row):
        plain = Fernet(key).decrypt(stored.encode()).decode()
        assert plain
        assert plain not in stored


async def test_bad_requests_are_4xx_with_messages(alice: httpx.AsyncClient) -> None:
    cases = [
        ("/api/listening/ingest", {"time_range": "forever"}, 422),
        ("/api/insights/generate", {"insight_type": "horoscope"}, 422),
        ("/api/insights/generate", {"insight_type": "roast", "tone_mode": "kind"}, 422),
        ("/api/insights/generate", {"insight_type": "roast"}, 422),  # no snapshot yet
        ("/api/insights/generate", {"insight_type": "roast", "snapshot_id": "nope"}, 404),
    ]
    for path, body, status in cases:
        response = await alice.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["error"]["message"]
    async with httpx.AsyncClient(base_url=str(alice.base_url)) as anonymous:
        assert (await anonymous.get("/api/users/me")).status_code == 401


async def test_logout_and_account_deletion(alice: httpx.AsyncClient) -> None:
    token = (await alice.post("/auth/token")).json()["api_token"]
    script = {"Authorization": f"Bearer {token}"}
    assert (await alice.get("/api/users/me", headers=script)).status_code == 200
    assert (await alice.post("/auth/logout", headers=script)).status_code == 204
    assert (await alice.get("/api/users/me", headers=script)).status_code == 401  # token ended
    assert (await alice.get("/api/users/me")).status_code == 200  # the cookie session lives on
    assert (await alice.delete("/api/users/me")).status_code == 204
    assert (await alice.get("/api/users/me")).status_code == 401
