"""Inbound limits are checked before the database is asked: a request over its session's
allowance is refused (429, JSON, Retry-After) on the signed token alone, without a query; a
forged token is turned away without one either, and a validly signed token of another session
— revoked, say — spends only its own allowance. Every route that calls the upstream while a
user waits has a limit. The app runs in-process on one loop, the simulator beside it; the
inbound limiter reads a fake clock, so a window passes without a wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from backbeat.api import create_app
from backbeat.api.throttle import InboundLimits
from backbeat.clock import FakeClock
from backbeat.config import (
    ApiSettings,
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    OrganizerAppSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.domain.services import Services
from backbeat.errors import TooManyRequests
from backbeat.ratelimit import Limiter, Rate
from backbeat.ratelimit.backends.memory import MemoryBackend
from backbeat.simulator import create_app as create_simulator
from backbeat.simulator.server import BackgroundServer

SEARCHES = 3  # per 30 s
SEARCH = ("GET", "/api/search?q=a", None)
# Every limited route, as (method, path, body) and its allowance. Most of these requests are
# malformed on purpose: an attempt counts whatever it asks, and none needs the upstream.
LIMITED = {
    "search": (SEARCH, SEARCHES),
    "album": (("GET", "/api/albums/not-an-id", None), SEARCHES),
    "recommendations": (("GET", "/api/recommendations", None), 2),
    "audio features": (("GET", "/api/audio-features", None), 2),
    "ranking session": (("POST", "/api/ranking/sessions", {}), 2),
    "ranking import": (("POST", "/api/ranking/import", {}), 2),
    "ingest": (("POST", "/api/listening/ingest", {}), 2),
    "insights": (("POST", "/api/insights/generate", {"insight_type": "roast"}), 2),
    "organizer scan": (("POST", "/api/organizer/scan", None), 2),
    "api tokens": (("POST", "/auth/token", None), 2),
}


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FakeClock
    queries: list[str] = field(default_factory=list)  # every statement the app sent

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    async def token_of(self, spotify_id: str) -> str:
        user = await self.services.users.find_or_create(spotify_id)
        return await self.services.sessions.issue(user.id, "api")

    async def call(self, token: str, request: tuple[str, str, Any] = SEARCH) -> httpx.Response:
        method, path, body = request
        headers = {"Authorization": f"Bearer {token}"}
        return await self.client.request(method, path, json=body, headers=headers)


@pytest.fixture
async def api(tmp_path: Path, token_key: str) -> AsyncIterator[Api]:
    with BackgroundServer(create_simulator(SimulatorSettings(artists=20, users=5))) as sim:
        settings = Settings(
            environment="test",
            redis_url=None,
            database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'app.db'}"),
            security=SecuritySettings(token_keys=[token_key]),
            auth=AuthSettings(
                session_secret="inbound-test-secret",
                ingest_rate="2/600",
                insights_rate="2/60",
                catalog_rate=f"{SEARCHES}/30",
                discovery_rate="2/60",
                ranking_rate="2/600",
                api_token_rate="2/3600",
            ),
            organizer=OrganizerAppSettings(scan_rate="2/3600"),
            spotify=SpotifySettings(api_url=f"{sim.url}/v1", accounts_url=sim.url),
            reccobeats=ReccoBeatsSettings(url=f"{sim.url}/reccobeats"),
            jobs=JobsSettings(var_dir=str(tmp_path / "var")),
            api=ApiSettings(consumers="off"),  # no job touches the database meanwhile
        )
        app = create_app(settings)
        clock = FakeClock()
        async with (
            app.router.lifespan_context(app),
            InboundLimits.from_settings(settings, clock) as inbound,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://backbeat"
            ) as client,
        ):
            app.state.inbound = inbound
            found = Api(app, client, clock)

            def seen(*args: Any) -> None:
                found.queries.append(str(args[2]))

            engine = found.services.database.engine.sync_engine
            event.listen(engine, "before_cursor_execute", seen)
            yield found
            event.remove(engine, "before_cursor_execute", seen)


def assert_refused(response: httpx.Response, what: str, window: float) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= window
    error = response.json()["error"]
    assert error["status"] == 429
    assert error["message"].startswith(f"too many {what} requests")


@pytest.mark.parametrize("route", LIMITED)
async def test_a_burst_over_the_limit_is_refused_without_a_query(api: Api, route: str) -> None:
    request, allowance = LIMITED[route]
    token = await api.token_of("alice")
    for _ in range(allowance):
        assert (await api.call(token, request)).status_code != 429
    api.queries.clear()
    refused = await asyncio.gather(*(api.call(token, request) for _ in range(20)))
    assert {answer.status_code for answer in refused} == {429}
    assert api.queries == []  # not even the session's row
    other = await api.token_of("bob")  # per user: Bob's allowance is his own
    assert (await api.call(other, request)).status_code != 429


async def test_search_is_limited_per_user_until_the_window_passes(api: Api) -> None:
    browser, script = await api.token_of("alice"), await api.token_of("alice")
    for _ in range(SEARCHES):
        assert (await api.call(browser)).status_code == 200
    assert_refused(await api.call(browser), "catalog", 30)
    # Another session of hers has an allowance of its own, but hers is spent: refused once
    # its session has been read.
    assert_refused(await api.call(script), "catalog", 30)
    api.clock.advance(30.1)
    assert (await api.call(script)).status_code == 200


async def test_a_forged_token_costs_no_query_and_no_one_elses_allowance(api: Api) -> None:
    token = await api.token_of("alice")
    payload, _, signature = token.rpartition(".")
    forged = f"{payload}.{'A' * len(signature)}"  # her session's id, signed by someone else
    api.queries.clear()
    for attempt in (forged, "garbage", f"{token}x"):
        for _ in range(SEARCHES + 1):
            answer = await api.call(attempt)
            assert answer.status_code == 401
            assert answer.json()["error"]["message"]
    assert api.queries == []
    for _ in range(SEARCHES):
        assert (await api.call(token)).status_code == 200


async def test_an_ended_session_spends_only_its_own_allowance(api: Api) -> None:
    ended, current = await api.token_of("alice"), await api.token_of("alice")
    session_id = api.services.sessions.verify(ended)
    assert session_id is not None
    await api.services.sessions.revoke(session_id)
    for _ in range(SEARCHES):  # validly signed: read, found ended
        assert (await api.call(ended)).status_code == 401
    api.queries.clear()
    assert_refused(await api.call(ended), "catalog", 30)  # then refused on the token alone
    assert api.queries == []
    for _ in range(SEARCHES):
        assert (await api.call(current)).status_code == 200


async def test_a_full_window_is_not_asked_again_until_it_frees_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    settings = Settings(environment="test", redis_url=None, auth=AuthSettings(catalog_rate="2/30"))
    async with InboundLimits.from_settings(settings, clock) as inbound:
        asked = 0
        acquire = inbound.limiter.acquire

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal asked
            asked += 1
            return await acquire(*args, **kwargs)

        monkeypatch.setattr(inbound.limiter, "acquire", counted)
        await inbound.check("catalog", "session:a")
        clock.advance(10)
        await inbound.check("catalog", "session:a")
        for _ in range(100):
            with pytest.raises(TooManyRequests) as refused:
                await inbound.check("catalog", "session:a")
            assert refused.value.retry_after == pytest.approx(20)
        assert asked == 3  # the store, asked once; it was full until the first grant left
        await inbound.check("catalog", "session:b")  # another key's window is its own
        clock.advance(20)
        await inbound.check("catalog", "session:a")
        with pytest.raises(TooManyRequests) as refused:
            await inbound.check("catalog", "session:a")
        assert refused.value.retry_after == pytest.approx(10)


async def test_a_process_keeps_policies_for_recent_keys_only() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryBackend(clock), {}, clock)
    inbound = InboundLimits(limiter, {"catalog": Rate(1, 30)}, remembered=2)
    await inbound.check("catalog", "alice")
    with pytest.raises(TooManyRequests):
        await inbound.check("catalog", "alice")
    await inbound.check("catalog", "bob")
    await inbound.check("catalog", "carol")  # a third key: Alice, seen least recently, goes
    assert set(limiter.policies) == {"inbound:catalog:bob", "inbound:catalog:carol"}
    with pytest.raises(TooManyRequests):
        await inbound.check("catalog", "carol")  # the kept ones still count
    await inbound.check("catalog", "alice")  # forgotten: starts afresh
