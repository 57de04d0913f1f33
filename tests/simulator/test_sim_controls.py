"""Controls the fault suite drives: the rate limit changed mid-run (`POST /_sim/limit`) and a
user's tokens revoked (`DELETE /_sim/users/{id}/tokens`), in-process on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from tests.simulator.sim_client import CLIENT_ID, app_token, basic, bearer, user_grant

SEARCH = {"q": "a", "type": "track"}


@asynccontextmanager
async def simulator(clock: FakeClock, limit: int = 100) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorSettings(artists=40, users=6, limit=limit, window=30), clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


async def test_a_lower_limit_counts_the_calls_already_in_the_window() -> None:
    clock = FakeClock()
    async with simulator(clock, limit=6) as c:
        headers = bearer(await app_token(c))
        for _ in range(4):
            assert (await c.get("/v1/search", params=SEARCH, headers=headers)).status_code == 200
            clock.advance(1)

        changed = await c.post("/_sim/limit", json={"limit": 3})
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"limit": 3, "previous": 6}
        refused = await c.get("/v1/search", params=SEARCH, headers=headers)
        # Four calls in the window, three allowed: free once the second oldest (t=1) expires.
        assert refused.status_code == 429
        assert float(refused.headers["Retry-After"]) == 31 - 4

        clock.advance(60)  # everything expired: three per window, not six
        statuses = [
            (await c.get("/v1/search", params=SEARCH, headers=headers)).status_code
            for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        stats = (await c.get("/_sim/stats")).json()["apps"][CLIENT_ID]
        assert stats["limit"] == 3
        assert stats["max_in_window"] == 4  # reached before the change

        await c.post("/_sim/reset")
        headers = bearer(await app_token(c))
        statuses = [
            (await c.get("/v1/search", params=SEARCH, headers=headers)).status_code
            for _ in range(7)
        ]
        assert statuses == [200] * 6 + [429]  # reset restored the configured limit
        assert (await c.get("/_sim/stats")).json()["apps"][CLIENT_ID]["limit"] == 6


async def test_the_limit_must_be_positive() -> None:
    async with simulator(FakeClock()) as c:
        assert (await c.post("/_sim/limit", json={"limit": 0})).status_code == 400


async def test_revoked_tokens_stop_working_for_that_user_only() -> None:
    async with simulator(FakeClock()) as c:
        alice, bob = await user_grant(c, "user0001"), await user_grant(c, "user0002")
        again = await user_grant(c, "user0001")  # a second login: both of them go
        revoked = await c.delete("/_sim/users/user0001/tokens")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json() == {"user": "user0001", "access_tokens": 2, "refresh_tokens": 2}

        for grant in (alice, again):
            me = await c.get("/v1/me", headers=bearer(grant["access_token"]))
            assert me.status_code == 401
            assert me.json()["error"]["message"] == "Invalid access token"
            refresh = await c.post(
                "/api/token",
                data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
                headers=basic(),
            )
            assert refresh.status_code == 400
            assert refresh.json()["error"] == "invalid_grant"

        assert (await c.get("/v1/me", headers=bearer(bob["access_token"]))).status_code == 200
        refresh = await c.post(
            "/api/token",
            data={"grant_type": "refresh_token", "refresh_token": bob["refresh_token"]},
            headers=basic(),
        )
        assert refresh.status_code == 200

        # Consenting again works as a first login did.
        fresh = await user_grant(c, "user0001")
        assert (await c.get("/v1/me", headers=bearer(fresh["access_token"]))).status_code == 200


async def test_revoking_an_unknown_user_is_a_404() -> None:
    async with simulator(FakeClock()) as c:
        assert (await c.delete("/_sim/users/nobody/tokens")).status_code == 404
