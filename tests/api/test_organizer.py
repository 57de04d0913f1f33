"""The organizer over HTTP: settings, a scan now, status; `backbeat plan` for the fan-out."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner

from backbeat.cli.main import app
from tests.api.deployment import finished


async def test_settings_scan_and_status(alice: httpx.AsyncClient) -> None:
    defaults = (await alice.get("/api/organizer/settings")).json()
    assert defaults["enabled"] is True
    before = (await alice.get("/api/organizer/status")).json()
    assert before["status"] == "never"
    assert before["next_run_at"]

    chosen = {"by_genre": False, "name_pattern": "Sorted · {name}"}
    put = await alice.put("/api/organizer/settings", json=chosen)
    assert put.status_code == 200, put.text
    assert put.json()["by_genre"] is False
    bad = await alice.put("/api/organizer/settings", json={"name_pattern": "{name.__class__}"})
    assert bad.status_code == 422

    accepted = await alice.post("/api/organizer/scan")
    assert accepted.status_code == 202
    task = await finished(alice, accepted.json()["task_id"])
    assert task["status"] == "succeeded", task
    assert task["result"]["outcome"] == "sorted"
    after = (await alice.get("/api/organizer/status")).json()
    assert after["status"] == "idle"
    assert after["playlists"]
    assert all(item["name"].startswith("Sorted · ") for item in after["playlists"])
    assert sum(item["track_count"] for item in after["playlists"]) == task["result"]["added"]

    for _ in range(2):  # three manual scans an hour
        assert (await alice.post("/api/organizer/scan")).status_code == 202
    refused = await alice.post("/api/organizer/scan")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


def test_backbeat_plan_prints_the_fan_out() -> None:
    result = CliRunner().invoke(app, ["plan", "--users", "1000", "--json"])
    assert result.exit_code == 0, result.output
    planned = json.loads(result.output)
    assert planned["users"] == 1000
    assert planned["calls_per_user"] > 0
    assert 0 < planned["scan_window_s"] < 86400
    assert planned["users_per_day_max"] >= 1000
    readable = CliRunner().invoke(app, ["plan", "--users", "1000"])
    assert "scan window" in readable.output
