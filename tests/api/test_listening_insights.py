"""The listening-insights app end to end, over HTTP, against the simulator: log in through the
simulator's consent, ingest, read the snapshot, generate each insight type, read them back; a
second user sees none of it. The API is a real server with its embedded job consumers."""

from __future__ import annotations

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from backbeat.db.engine import open_database
from tests.api.deployment import Deployment, browser, finished, log_in_as


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
