"""Every route of the API, as an anonymous caller and as another user: 401 without a session,
never someone else's data. The routes come from the OpenAPI description, so a new route is
checked the day it is added."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.api.deployment import Deployment, browser, finished, log_in_as

PUBLIC = {
    "/auth/login",
    "/auth/callback",
    "/health",
    "/health/live",
    "/metrics",
    "/metrics/rate-limiter",
    "/metrics/jobs",
}


def routes(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path not in PUBLIC
    ]


async def test_no_route_answers_an_anonymous_caller(deployment: Deployment) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as anonymous:
        spec = (await anonymous.get("/openapi.json")).json()
        checked = routes(spec)
        assert len(checked) > 20
        for method, path in checked:
            concrete = re.sub(r"\{[^}]+\}", "x1", path)
            response = await anonymous.request(method, concrete, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["message"]


async def test_another_users_ids_are_404_everywhere(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    ingest = await alice.post("/api/listening/ingest", json={"time_range": "short_term"})
    task = await finished(alice, ingest.json()["task_id"])
    snapshot_id = task["result"]["snapshot_id"]
    insight = await alice.post("/api/insights/generate", json={"insight_type": "roast"})
    insight_id = (await finished(alice, insight.json()["task_id"]))["result"]["insight_id"]
    artist = (await alice.get("/api/search", params={"q": "a"})).json()["items"][0]["id"]
    session = await alice.post("/api/ranking/sessions", json={"artist_id": artist})
    session_id = session.json()["id"]
    ids = {
        "task_id": ingest.json()["task_id"],
        "snapshot_id": snapshot_id,
        "insight_id": insight_id,
        "session_id": session_id,
    }
    async with browser(deployment) as bob:
        await log_in_as(bob, "user0016")
        spec = (await bob.get("/openapi.json")).json()
        for method, path in routes(spec):
            names = re.findall(r"\{([^}]+)\}", path)
            if not names or not set(names) <= set(ids):
                continue
            concrete = path
            for name in names:
                concrete = concrete.replace(f"{{{name}}}", ids[name])
            response = await bob.request(method, concrete, json={"a": 1, "b": 2, "outcome": "a"})
            assert response.status_code == 404, (method, path, response.status_code)
    assert (await alice.get(f"/api/ranking/sessions/{session_id}")).status_code == 200
