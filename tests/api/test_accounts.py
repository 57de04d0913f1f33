"""Accounts over HTTP: admin registration and stored tokens, a refused refresh token asking for
a new login, inbound limits, and the OpenAPI description of every route's auth."""

from __future__ import annotations

import httpx
import pytest

from tests.api.deployment import ADMIN_TOKEN, Deployment, browser, finished, log_in_as
from tests.simulator.sim_client import user_grant


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: httpx.AsyncClient, spotify_id: str) -> dict[str, str]:
    response = await client.post(
        "/api/users/register",
        json={"spotify_user_id": spotify_id, "display_name": "Automation"},
        headers=bearer(ADMIN_TOKEN),
    )
    assert response.status_code == 201, response.text
    registered: dict[str, str] = response.json()
    return registered


async def test_automation_registers_a_user_and_stores_their_tokens(
    deployment: Deployment,
) -> None:
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        grant = await user_grant(sim, "user0005")
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        refused = await client.post("/api/users/register", json={"spotify_user_id": "user0005"})
        assert refused.status_code == 401
        wrong = await client.post(
            "/api/users/register", json={"spotify_user_id": "x"}, headers=bearer("guess")
        )
        assert wrong.status_code == 401
        registered = await register(client, "user0005")
        again = await register(client, "user0005")  # the same user, a new token
        assert again["user_id"] == registered["user_id"]

        script = bearer(registered["api_token"])
        tokens = {
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "expires_in": 3600,
            "scope": grant.get("scope", ""),
        }
        stored = await client.post("/api/tokens/store", json=tokens, headers=script)
        assert stored.status_code == 204
        in_query = await client.post(
            "/api/tokens/store", params=tokens, json={}, headers=script
        )  # tokens in a query string are not read
        assert in_query.status_code == 422

        accepted = await client.post(
            "/api/listening/ingest", json={"time_range": "long_term"}, headers=script
        )
        client.headers.update(script)
        task = await finished(client, accepted.json()["task_id"])
        assert task["status"] == "succeeded", task


async def test_a_refused_refresh_token_asks_for_a_new_login(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        registered = await register(client, "user0006")
        client.headers.update(bearer(registered["api_token"]))
        dead = {"access_token": "expired", "refresh_token": "revoked", "expires_in": 1}
        assert (await client.post("/api/tokens/store", json=dead)).status_code == 204
        accepted = await client.post("/api/listening/ingest", json={"time_range": "short_term"})
        task = await finished(client, accepted.json()["task_id"])
        assert task["status"] == "failed"
        assert task["attempts"] == 1  # no retries: only a new login helps
        assert "must log in again" in task["error"]
        me = (await client.get("/api/users/me")).json()
        assert me["needs_relogin"] is True
        assert me["auth_error"]

    async with browser(deployment) as user:  # they log in again: the flag clears
        again = await log_in_as(user, "user0006")
        assert again["user_id"] == registered["user_id"]
        assert again["needs_relogin"] is False


async def test_expensive_requests_are_limited_per_user(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    for _ in range(3):
        accepted = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
        assert accepted.status_code == 202
    refused = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    assert "too many ingest requests" in refused.json()["error"]["message"]
    async with browser(deployment) as bob:  # per user: someone else is not held back
        await log_in_as(bob, "user0008")
        accepted = await bob.post("/api/listening/ingest", json={"time_range": "short_term"})
        assert accepted.status_code == 202


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
async def test_the_api_describes_itself(deployment: Deployment, path: str) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        response = await client.get(path)
    assert response.status_code == 200
    if path == "/docs":
        assert "swagger-ui" in response.text
        return
    spec = response.json()
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"API token", "Session cookie", "Admin token"}
    public = {"/auth/login", "/auth/callback", "/health", "/health/live", "/metrics"}
    public |= {"/metrics/rate-limiter", "/metrics/jobs"}  # aggregates, no user data
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {name for need in operation.get("security", []) for name in need}
            if route in public:
                assert not names, (method, route)
            elif route == "/api/users/register":
                assert names == {"Admin token"}
            else:
                assert names == {"API token", "Session cookie"}, (method, route)


async def callback_of(client: httpx.AsyncClient, sim_user: str) -> httpx.URL:
    """Start a login and let the simulator consent; the callback URL, not yet visited."""
    started = await client.get("/auth/login", follow_redirects=False)
    consent = await client.get(
        f"{started.headers['location']}&sim_user={sim_user}", follow_redirects=False
    )
    return httpx.URL(consent.headers["location"])


async def test_oauth_forgeries_are_refused(deployment: Deployment) -> None:
    async with browser(deployment) as client:
        callback = await callback_of(client, "user0013")
        forged = callback.copy_set_param("state", "someone-elses")
        assert (await client.get(str(forged), follow_redirects=False)).status_code == 422
        assert (await client.get(str(callback))).status_code == 200  # the real one logs in

        # The same code again, under a new login's (matching) state: Spotify refuses it.
        restarted = await client.get("/auth/login", follow_redirects=False)
        state = httpx.URL(restarted.headers["location"]).params["state"]
        replay = callback.copy_set_param("state", state)
        replayed = await client.get(str(replay), follow_redirects=False)
        assert replayed.status_code == 422
        assert "Spotify refused it" in replayed.json()["error"]["message"]

        # A fresh code presented with another login's verifier (its challenge differs).
        fresh = await callback_of(client, "user0013")
        restarted = await client.get("/auth/login", follow_redirects=False)
        state = httpx.URL(restarted.headers["location"]).params["state"]
        mismatched = await client.get(
            str(fresh.copy_set_param("state", state)), follow_redirects=False
        )
        assert mismatched.status_code == 422
        assert "Spotify refused it" in mismatched.json()["error"]["message"]

    async with browser(deployment) as other:  # a code without this browser's login cookie
        stolen = await callback_of(other, "user0014")
        other.cookies.clear()
        refused = await other.get(str(stolen), follow_redirects=False)
        assert refused.status_code == 422
        assert "no login in progress" in refused.json()["error"]["message"]
