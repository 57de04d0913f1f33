"""`Server-Timing: limiter;dur=…`: the budget waits of the upstream calls a request made."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from backbeat.api.timing import LimiterTiming
from backbeat.upstream import timing


async def test_the_header_sums_the_waits_recorded_while_serving() -> None:
    app = FastAPI()
    app.add_middleware(LimiterTiming)

    @app.get("/two-calls")
    async def two_calls() -> dict[str, bool]:
        timing.record(0.25)
        timing.record(0.125)
        return {"ok": True}

    @app.get("/none")
    async def none() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/two-calls")).headers["server-timing"] == "limiter;dur=375.0"
        assert (await client.get("/none")).headers["server-timing"] == "limiter;dur=0.0"
    timing.record(1.0)  # outside any request: nowhere to add it, and no error


async def test_a_real_search_reports_its_wait(alice: httpx.AsyncClient) -> None:
    answer = await alice.get("/api/search", params={"q": "night", "type": "track"})
    assert answer.status_code == 200
    name, duration = answer.headers["server-timing"].split(";dur=")
    assert name == "limiter"
    assert float(duration) >= 0.0
