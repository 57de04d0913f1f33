"""The issue's hand check, in-process on a fake clock: limit 20 per 3 s, 25 quick searches."""

from __future__ import annotations

import httpx

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from tests.simulator.sim_client import CLIENT_ID, app_token, bearer


async def test_twenty_five_quick_searches_give_twenty_successes_and_five_429() -> None:
    clock = FakeClock()
    app = create_app(SimulatorSettings(limit=20, window=3, artists=40, users=5), clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as c:
        headers = bearer(await app_token(c))
        responses = [
            await c.get("/v1/search", params={"q": "a", "type": "track"}, headers=headers)
            for _ in range(25)
        ]
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 20 + [429] * 5
        for rejected in responses[20:]:
            assert float(rejected.headers["Retry-After"]) >= 1
            assert rejected.json()["error"]["status"] == 429

        stats = (await c.get("/_sim/stats")).json()["apps"][CLIENT_ID]
        assert (stats["requests"], stats["successes"]) == (25, 20)
        assert (stats["http_429"], stats["max_in_window"]) == (5, 20)
        assert stats["by_endpoint"]["search"]["http_429"] == 5

        # Once the cooldown has passed the app is served again, and never above the limit.
        clock.advance(float(responses[-1].headers["Retry-After"]) + 0.001)
        again = await c.get("/v1/search", params={"q": "a", "type": "track"}, headers=headers)
        assert again.status_code == 200
        stats = (await c.get("/_sim/stats")).json()["apps"][CLIENT_ID]
        assert stats["max_in_window"] == 20

        await c.post("/_sim/reset")
        assert (await c.get("/_sim/stats")).json()["apps"] == {}
