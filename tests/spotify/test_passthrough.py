"""The `/v1/*` pass-through: in-process over the stack wired to the in-process simulator, then
spotipy, unchanged but for its base URL and token, through it over real HTTP. The callers here
are authenticated by a stand-in for the API's auth (`tests/api/test_v1_passthrough.py` runs the
real one): a table of bearer tokens → backbeat users."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import spotipy
from fastapi import FastAPI, Request

from backbeat.config import ReccoBeatsSettings, Settings, SimulatorSettings, SpotifySettings
from backbeat.simulator import create_app
from backbeat.simulator.server import BackgroundServer
from backbeat.spotify.auth import AccessToken, MemoryUserTokens
from backbeat.spotify.passthrough import (
    RELOGIN,
    PassthroughError,
    bearer_of,
    endpoint_of,
    op_class_of,
    passthrough_router,
)
from backbeat.upstream.stack import UpstreamStack
from tests.simulator.sim_client import app_token, bearer, user_grant
from tests.spotify.stack_fixtures import consent, simulated_stack, stack_settings

OWN = "http://backbeat/v1"
APP = "spotify:backbeat-dev"


async def known_caller(request: Request) -> str:
    """The stand-in for the API's auth: the user `app.state.callers` maps the bearer token to."""
    user: str | None = request.app.state.callers.get(bearer_of(request))
    if user is None:
        raise PassthroughError(401, "Invalid access token")
    return user


def passthrough_app(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """The pass-through under `/v1`, as the API mounts it; the stack is `app.state.upstreams`,
    the callers `app.state.callers`."""
    app = FastAPI(lifespan=lifespan)
    app.state.callers = {}
    router = passthrough_router(lambda request: request.app.state.upstreams, known_caller)
    app.include_router(router, prefix="/v1")

    @app.get("/_test/limiter")
    async def limiter(request: Request) -> dict[str, Any]:
        stack: UpstreamStack = request.app.state.upstreams
        return (await stack.limiter.snapshot(APP)).as_dict()

    return app


@dataclass
class Passthrough:
    client: httpx.AsyncClient  # a caller known as user0004, whose tokens backbeat holds
    stack: UpstreamStack
    plain: httpx.AsyncClient  # the simulator
    callers: dict[str, str]  # bearer token → backbeat user
    users: MemoryUserTokens  # backbeat's store of users' Spotify tokens


@asynccontextmanager
async def passthrough(
    simulator: SimulatorSettings | None = None, settings: Settings | None = None
) -> AsyncIterator[Passthrough]:
    async with simulated_stack(simulator, settings) as (stack, plain, users):
        app = passthrough_app()
        app.state.upstreams = stack
        # The caller's bearer is a valid token of another Spotify app: were it forwarded, the
        # simulator's stats would show that app.
        token = await app_token(plain, "some-client")
        app.state.callers[token] = "user0004"
        await consent(plain, users, "user0004", stack.clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backbeat") as client:
            client.headers.update(bearer(token))
            yield Passthrough(client, stack, plain, app.state.callers, users)


async def sim_stats(plain: httpx.AsyncClient) -> dict[str, Any]:
    apps: dict[str, Any] = (await plain.get("/_sim/stats")).json()["apps"]
    return apps


def test_paths_map_to_the_simulators_endpoint_names() -> None:
    assert endpoint_of("GET", ["albums", "x", "tracks"]) == "album_tracks"
    assert endpoint_of("POST", ["users", "u", "playlists"]) == "create_playlist"
    assert endpoint_of("GET", ["audio-features"]) == "several_audio_features"
    assert endpoint_of("GET", ["markets"]) == "other"
    assert op_class_of("GET", ["tracks"], {"ids": "a,b"}) == "batch"
    assert op_class_of("GET", ["tracks", "a"], {}) == "read"
    assert op_class_of("PUT", ["me", "tracks"], {"ids": "a"}) == "write"


async def test_catalog_calls_page_through_backbeat() -> None:
    async with passthrough() as pt:
        client, stack, plain = pt.client, pt.stack, pt.plain
        found = await client.get("/v1/search", params={"q": "love", "type": "track", "limit": 5})
        assert found.status_code == 200
        tracks = found.json()["tracks"]["items"]
        assert 0 < len(tracks) <= 5
        assert all(t["href"].startswith(f"{OWN}/tracks/") for t in tracks)

        album = (await client.get(f"/v1/albums/{tracks[0]['album']['id']}")).json()
        page = (await client.get(f"/v1/albums/{album['id']}/tracks", params={"limit": 2})).json()
        names = [t["name"] for t in page["items"]]
        while page["next"]:
            assert page["next"].startswith(f"{OWN}/albums/{album['id']}/tracks?")
            page = (await client.get(page["next"])).json()
            names += [t["name"] for t in page["items"]]
        assert names == [t["name"] for t in album["tracks"]["items"]]

        several = await client.get("/v1/tracks", params={"ids": tracks[0]["id"]})
        assert [t["id"] for t in several.json()["tracks"]] == [tracks[0]["id"]]

        # Sent with backbeat's app token: the caller's own app never reached Spotify.
        stats = await sim_stats(plain)
        assert set(stats) == {"backbeat-dev"}
        assert stats["backbeat-dev"]["successes"] == stack.spotify_upstream.upstream_requests
        windows = {w.key: w.used for w in (await stack.limiter.snapshot(APP)).windows}
        assert windows["c:batch:0"] == 1


async def test_cached_repeats_do_not_reach_the_simulator() -> None:
    async with passthrough() as pt:
        client, stack, plain = pt.client, pt.stack, pt.plain
        query: dict[str, str | int] = {"q": "love", "type": "track", "limit": 5}
        first = await client.get("/v1/search", params=query)
        album_id = first.json()["tracks"]["items"][0]["album"]["id"]
        await client.get(f"/v1/albums/{album_id}")
        again = await client.get("/v1/search", params=query)
        assert again.json() == first.json()
        await client.get(f"/v1/albums/{album_id}/")  # spotipy's trailing slash: the same call
        await stack.spotify.album(album_id)  # backbeat's own calls share the cache
        by_endpoint = (await sim_stats(plain))["backbeat-dev"]["by_endpoint"]
        assert by_endpoint["search"]["requests"] == 1
        assert by_endpoint["album"]["requests"] == 1


async def test_user_calls_go_out_as_the_callers_backbeat_user() -> None:
    async with passthrough() as pt:
        client, plain = pt.client, pt.plain
        assert (await client.get("/v1/me")).json()["id"] == "user0004"
        top = await client.get("/v1/me/top/tracks", params={"limit": 5})
        uris = [t["uri"] for t in top.json()["items"]]

        created = await client.post("/v1/me/playlists", json={"name": "pt"})
        assert created.status_code == 201
        playlist = created.json()
        assert playlist["owner"]["id"] == "user0004"
        assert playlist["href"] == f"{OWN}/playlists/{playlist['id']}"
        added = await client.post(f"/v1/playlists/{playlist['id']}/items", json=uris)
        assert added.status_code == 201
        assert added.json()["snapshot_id"] != playlist["snapshot_id"]
        items = await client.get(f"/v1/playlists/{playlist['id']}/items")
        assert [i["track"]["uri"] for i in items.json()["items"]] == uris

        other = await client.post("/v1/users/user0004/playlists", json={"name": "x"})
        assert other.status_code == 201

        # Another caller, another user: answers are not shared between them (per-user cache).
        pt.callers["second"] = "user0007"
        await consent(plain, pt.users, "user0007", pt.stack.clock)
        assert (await client.get("/v1/me", headers=bearer("second"))).json()["id"] == "user0007"
        assert (await client.get("/v1/me")).json()["id"] == "user0004"
        # With the users' tokens, consented to backbeat's app; the caller's never went out.
        assert set(await sim_stats(plain)) == {"backbeat-dev"}


async def test_a_user_without_spotify_tokens_is_told_to_log_in_again() -> None:
    async with passthrough() as pt:
        pt.callers["never"] = "user0005"  # no tokens stored
        pt.callers["revoked"] = "user0006"
        await pt.users.save("user0006", AccessToken("expired", 0.0, refresh_token="revoked"))
        for token in ("never", "revoked"):
            refused = await pt.client.get("/v1/me", headers=bearer(token))
            assert refused.status_code == 403
            assert refused.json() == {"error": {"status": 403, "message": RELOGIN}}
        assert await pt.users.load("user0006") is None  # the refused tokens are dropped
        assert (await pt.client.get("/v1/search", params={"q": "a", "type": "track"})).is_success
        stats = await sim_stats(pt.plain)
        assert "me" not in stats["backbeat-dev"]["by_endpoint"]


async def test_errors_in_spotifys_shape() -> None:
    async with passthrough() as pt:
        client = pt.client
        missing = await client.get(f"/v1/albums/{'0' * 22}")
        assert missing.status_code == 404
        assert missing.json()["error"]["status"] == 404
        assert (await client.get("/v1/markets")).status_code == 404  # forwarded as `other`
        bad_limit = await client.get("/v1/search", params={"q": "a", "type": "track", "limit": "x"})
        assert bad_limit.json() == {"error": {"status": 400, "message": "Invalid limit"}}

        # Refused by the caller dependency, before anything is forwarded.
        assert (await client.get("/v1/search", headers={"Authorization": ""})).status_code == 401
        basic = await client.get("/v1/search", headers={"Authorization": "Basic abc"})
        assert basic.status_code == 400
        unknown = await client.get("/v1/search?q=b&type=track", headers=bearer("guess"))
        assert unknown.json() == {"error": {"status": 401, "message": "Invalid access token"}}
        assert (await sim_stats(pt.plain))["backbeat-dev"]["by_endpoint"]["search"]["requests"] == 1
        broken = await client.post("/v1/me/playlists", content=b"{no json")
        assert broken.json()["error"] == {"status": 400, "message": "Error parsing JSON."}
        escape = await client.get("/v1/%2E%2E/api/token")
        assert escape.status_code == 400


async def test_a_ban_answers_503_with_retry_after() -> None:
    quota = SimulatorSettings(artists=60, users=20, daily_quota=2)
    async with passthrough(quota) as pt:
        client, plain = pt.client, pt.plain
        query: dict[str, str | int] = {"type": "track", "limit": 1}
        for q in ("a", "b"):
            assert (await client.get("/v1/search", params={"q": q, **query})).status_code == 200
        banned = await client.get("/v1/search", params={"q": "c", **query})
        assert banned.status_code == 503
        assert 86_000 < int(banned.headers["retry-after"]) <= 86_400
        again = await client.get("/v1/search", params={"q": "d", **query})
        assert again.status_code == 503
        assert int(again.headers["retry-after"]) > 86_000
        stats = (await sim_stats(plain))["backbeat-dev"]
        assert (stats["requests"], stats["http_429"]) == (3, 1)  # the limiter held the 4th


async def test_no_slot_in_time_answers_503_with_retry_after() -> None:
    async with passthrough(settings=stack_settings(spotify_read="1/30")) as pt:
        client, plain = pt.client, pt.plain
        query: dict[str, str | int] = {"type": "track", "limit": 1}
        assert (await client.get("/v1/search", params={"q": "a", **query})).status_code == 200
        late = await client.get("/v1/search", params={"q": "b", **query})
        assert late.status_code == 503
        assert 1 <= int(late.headers["retry-after"]) <= 35  # the window, plus a margin
        assert (await sim_stats(plain))["backbeat-dev"]["requests"] == 1


async def test_backbeats_own_credentials_failing_is_a_502() -> None:
    settings = stack_settings()
    settings.spotify.client_secret = "wrong"
    async with passthrough(settings=settings) as pt:
        refused = await pt.client.get("/v1/search", params={"q": "a", "type": "track"})
        assert refused.status_code == 502  # not 401: the caller's token is not at fault


@dataclass
class Servers:
    sim: BackgroundServer
    backbeat: BackgroundServer
    callers: dict[str, str]
    users: MemoryUserTokens


@pytest.fixture
def servers() -> Iterator[Servers]:
    """The simulator and, in front of it, the pass-through with its own stack, both over HTTP."""
    with BackgroundServer(create_app(SimulatorSettings(artists=60, users=20))) as sim:
        settings = Settings(
            spotify=SpotifySettings(api_url=f"{sim.url}/v1", accounts_url=sim.url),
            reccobeats=ReccoBeatsSettings(url=f"{sim.url}/reccobeats"),
        )
        users = MemoryUserTokens()

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            # On the server's own event loop.
            async with UpstreamStack(settings, user_tokens=users) as stack:
                app.state.upstreams = stack
                yield

        app = passthrough_app(lifespan)
        with BackgroundServer(app) as backbeat:
            yield Servers(sim, backbeat, app.state.callers, users)


def spotipy_client(backbeat: BackgroundServer, token: str) -> spotipy.Spotify:
    """spotipy with a backbeat token as its (static) bearer token."""
    client = spotipy.Spotify(auth=token, retries=0)
    client.prefix = f"{backbeat.url}/v1/"
    return client


def test_spotipy_shares_backbeats_budget(servers: Servers) -> None:
    sim, backbeat = servers.sim, servers.backbeat
    servers.callers["script"] = "user0001"
    sp = spotipy_client(backbeat, "script")

    tracks = sp.search(q="love", limit=5, type="track")["tracks"]["items"]
    assert 0 < len(tracks) <= 5
    album = sp.album(tracks[0]["album"]["id"])
    page = sp.album_tracks(album["id"], limit=2)
    names, pages = [t["name"] for t in page["items"]], 1
    while page["next"]:
        assert page["next"].startswith(sp.prefix)  # back through backbeat, not around it
        page = sp.next(page)
        names, pages = names + [t["name"] for t in page["items"]], pages + 1
    assert names == [t["name"] for t in album["tracks"]["items"]]

    stats = httpx.get(f"{sim.url}/_sim/stats").json()["apps"]
    assert set(stats) == {"backbeat-dev"}
    by_endpoint = stats["backbeat-dev"]["by_endpoint"]
    assert by_endpoint["album_tracks"]["requests"] == pages
    limiter = httpx.get(f"{backbeat.url}/_test/limiter").json()
    assert limiter["grants"] == stats["backbeat-dev"]["requests"] == 2 + pages

    with pytest.raises(spotipy.SpotifyException) as refused:
        spotipy_client(backbeat, "unknown").search(q="love", type="track")
    assert refused.value.http_status == 401


async def grant_of(sim: BackgroundServer, user: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as plain:
        return await user_grant(plain, user)


def test_spotipy_user_flow(servers: Servers) -> None:
    sim, backbeat = servers.sim, servers.backbeat
    grant = asyncio.run(grant_of(sim, "user0002"))  # the user's login, kept by backbeat
    stored = AccessToken(grant["access_token"], time.time() + 3600, grant["refresh_token"])
    asyncio.run(servers.users.save("user0002", stored))
    servers.callers["user-token"] = "user0002"
    sp = spotipy_client(backbeat, "user-token")

    assert sp.current_user()["id"] == "user0002"
    uris = [t["uri"] for t in sp.current_user_top_tracks(limit=5)["items"]]
    playlist = sp.current_user_playlist_create("through backbeat", public=False)
    sp.playlist_add_items(playlist["id"], uris)  # a bare JSON array of URIs
    items = sp.playlist_items(playlist["id"])
    assert [i["track"]["uri"] for i in items["items"]] == uris
    stats = httpx.get(f"{sim.url}/_sim/stats").json()["apps"]
    assert stats["backbeat-dev"]["successes"] == 5
    assert httpx.get(f"{backbeat.url}/_test/limiter").json()["grants"] == 5
