"""Development hooks: likes added to a simulated user, targeted faults, both undone by reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.users import Users
from tests.simulator.sim_client import bearer, user_token

USER = "user0003"


@asynccontextmanager
async def simulator(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorSettings(artists=40, users=12), clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


def _not_liked(n: int) -> list[str]:
    catalog = Catalog(SimulatorSettings().seed, 40)
    profile = Users(catalog, 12).get(USER)
    assert profile is not None
    liked = {saved.track_id for saved in profile.liked}
    return [track_id for track_id in catalog.track_ids if track_id not in liked][:n]


async def _liked(c: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await c.get("/v1/me/tracks", params={"limit": 50}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_likes_list_first_and_newest_last_in_order() -> None:
    clock = FakeClock()  # behind the generated history's end
    async with simulator(clock) as c:
        headers = bearer(await user_token(c, USER))
        before = await _liked(c, headers)
        new, again = _not_liked(2), before["items"][5]["track"]["id"]
        response = await c.post(f"/_sim/users/{USER}/likes", json={"track_ids": [*new, again]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert [item["id"] for item in body["added"]] == new  # a liked song stays where it was
        assert body["total"] == before["total"] + 2

        after = await _liked(c, headers)
        items = after["items"]
        assert [item["track"]["id"] for item in items[:2]] == new[::-1]
        # Stamped after the generated history, though the clock is behind it.
        assert items[0]["added_at"] > items[1]["added_at"] > items[2]["added_at"]

        await c.post("/_sim/reset")
        headers = bearer(await user_token(c, USER))
        assert (await _liked(c, headers))["total"] == before["total"]


async def test_likes_of_unknown_users_or_tracks_are_refused() -> None:
    async with simulator(FakeClock()) as c:
        unknown_user = await c.post("/_sim/users/nobody/likes", json={"track_ids": ["x"]})
        assert unknown_user.status_code == 404
        unknown_track = await c.post(f"/_sim/users/{USER}/likes", json={"track_ids": ["x" * 22]})
        assert unknown_track.status_code == 400
        empty = await c.post(f"/_sim/users/{USER}/likes", json={"track_ids": []})
        assert empty.status_code == 400


async def test_a_targeted_fault_fails_one_endpoint_after_some_calls() -> None:
    async with simulator(FakeClock()) as c:
        headers = bearer(await user_token(c, USER))
        fault = {"endpoint": "saved_tracks", "status": 502, "after": 1, "times": 2}
        assert (await c.post("/_sim/faults", json=fault)).json() == fault
        statuses = [(await c.get("/v1/me/tracks", headers=headers)).status_code for _ in range(4)]
        assert statuses == [200, 502, 502, 200]
        assert (await c.get("/v1/me", headers=headers)).status_code == 200  # others untouched

        await c.post("/_sim/faults", json={"endpoint": "me", "times": 5})
        assert (await c.delete("/_sim/faults")).status_code == 200
        assert (await c.get("/v1/me", headers=headers)).status_code == 200
        bad = await c.post("/_sim/faults", json={"endpoint": "me", "status": 200})
        assert bad.status_code == 400
