"""`/v1/*`, Spotify's Web API through backbeat, as the API mounts it: real servers on loopback
(see `deployment.py`), backbeat's own auth in front. A backbeat API token stands in for a
Spotify token; catalog calls share backbeat's budget and cache, `/me` is the caller's user; no
credential, nothing forwarded. Then spotipy, unchanged but for its prefix and token."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import spotipy

from tests.api.deployment import ADMIN_TOKEN, Deployment, browser, log_in_as
from tests.simulator.sim_client import app_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def api_token_of(deployment: Deployment, sim_user: str) -> str:
    """The user logs in (as a browser would), then asks for an API token for scripts."""
    async with browser(deployment) as client:
        await log_in_as(client, sim_user)
        issued = await client.post("/auth/token")
        assert issued.status_code == 201, issued.text
        token: str = issued.json()["api_token"]
        return token


async def sim_stats(deployment: Deployment) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        apps: dict[str, Any] = (await sim.get("/_sim/stats")).json()["apps"]
        return apps


def requests_to(stats: dict[str, Any], endpoint: str) -> int:
    return sum(app["by_endpoint"].get(endpoint, {}).get("requests", 0) for app in stats.values())


def total_requests(stats: dict[str, Any]) -> int:
    return sum(app["requests"] for app in stats.values())


async def test_catalog_and_me_with_an_api_token(deployment: Deployment) -> None:
    token = await api_token_of(deployment, "user0003")
    own = f"{deployment.api}/v1"
    async with httpx.AsyncClient(base_url=deployment.api, headers=bearer(token)) as client:
        query = {"q": "love", "type": "track", "limit": 5}
        found = await client.get("/v1/search", params=query)
        assert found.status_code == 200, found.text
        tracks = found.json()["tracks"]
        assert tracks["href"].startswith(f"{own}/search?")
        assert 0 < len(tracks["items"]) <= 5
        assert all(t["href"] == f"{own}/tracks/{t['id']}" for t in tracks["items"])

        ids = [t["id"] for t in tracks["items"][:2]]
        several = await client.get("/v1/tracks", params={"ids": ",".join(ids)})
        assert several.status_code == 200, several.text
        assert [t["id"] for t in several.json()["tracks"]] == ids
        assert all(
            t["album"]["href"].startswith(f"{own}/albums/") for t in several.json()["tracks"]
        )

        me = await client.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == "user0003"
        assert me.json()["href"] == f"{own}/users/user0003"

        # The same calls again: from backbeat's cache, the simulator asked nothing more.
        before = await sim_stats(deployment)
        assert (await client.get("/v1/search", params=query)).json() == found.json()
        again = await client.get("/v1/tracks", params={"ids": ",".join(ids)})
        assert again.json() == several.json()
        assert (await client.get("/v1/me")).json() == me.json()
        assert total_requests(await sim_stats(deployment)) == total_requests(before)
    assert set(before) == {"backbeat-dev"}  # backbeat's app, and the user's consent to it


async def test_no_backbeat_credential_no_call(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        spotify_token = await app_token(sim)  # a real Spotify token is no backbeat credential
    ended = (await alice.post("/auth/token")).json()["api_token"]
    assert (await alice.post("/auth/logout", headers=bearer(ended))).status_code == 204
    before = await sim_stats(deployment)
    refusals = [
        {},
        bearer("garbage"),
        bearer(spotify_token),
        bearer(ADMIN_TOKEN),
        bearer(ended),  # a token whose session was ended
        {"Authorization": "Basic YTpi"},
        {"Cookie": "backbeat_session=forged"},
    ]
    async with httpx.AsyncClient(base_url=deployment.api) as anonymous:
        for headers in refusals:
            for method, path in [
                ("GET", "/v1/search?q=love&type=track"),
                ("GET", "/v1/tracks?ids=a,b"),
                ("GET", "/v1/me"),
                ("POST", "/v1/me/playlists"),
                ("GET", "/v1/../v1/me"),
            ]:
                response = await anonymous.request(
                    method, path, headers=headers, json={"name": "x"}
                )
                assert response.status_code == 401, (headers, path, response.text)
                error = response.json()["error"]
                assert error["status"] == 401
                assert error["message"]
    # Alice's browser, without its cookie, is anyone.
    alice.cookies.clear()
    assert (await alice.get("/v1/me")).status_code == 401
    assert total_requests(await sim_stats(deployment)) == total_requests(before)


async def test_each_caller_is_their_own_user(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    first = await api_token_of(deployment, "user0009")
    second = await api_token_of(deployment, "user0010")
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        for _ in range(2):  # the second round from the per-user cache: still each one's own
            me = await client.get("/v1/me", headers=bearer(first))
            assert me.json()["id"] == "user0009"
            me = await client.get("/v1/me", headers=bearer(second))
            assert me.json()["id"] == "user0010"
    account = (await alice.get("/api/users/me")).json()  # a session cookie works too
    assert (await alice.get("/v1/me")).json()["id"] == account["spotify_id"]


async def test_a_user_whose_tokens_were_revoked_is_told_to_log_in_again(
    deployment: Deployment,
) -> None:
    async with httpx.AsyncClient(base_url=deployment.api) as client:
        registered = await client.post(
            "/api/users/register",
            json={"spotify_user_id": "user0011", "display_name": "Automation"},
            headers=bearer(ADMIN_TOKEN),
        )
        client.headers.update(bearer(registered.json()["api_token"]))
        never = await client.get("/v1/me")  # no tokens stored yet
        assert never.status_code == 403
        assert "log in to backbeat again" in never.json()["error"]["message"]

        dead = {"access_token": "expired", "refresh_token": "revoked", "expires_in": 1}
        assert (await client.post("/api/tokens/store", json=dead)).status_code == 204
        refused = await client.get("/v1/me/top/tracks")
        assert refused.status_code == 403
        assert refused.json()["error"]["status"] == 403
        assert "log in to backbeat again" in refused.json()["error"]["message"]
        assert (await client.get("/api/users/me")).json()["needs_relogin"] is True
        # The catalog needs no user token: still served.
        catalog = await client.get("/v1/search", params={"q": "a", "type": "artist"})
        assert catalog.status_code == 200


def spotipy_session(deployment: Deployment, token: str) -> None:
    """spotipy, pointed at backbeat, with a backbeat API token as its bearer token."""
    sp = spotipy.Spotify(auth=token, retries=0, requests_timeout=30)
    sp.prefix = f"{deployment.api}/v1/"

    tracks = sp.search(q="love", limit=5, type="track")["tracks"]["items"]
    assert 0 < len(tracks) <= 5
    ids = [t["id"] for t in tracks]
    assert [t["id"] for t in sp.tracks(ids)["tracks"]] == ids
    assert sp.current_user()["id"] == "user0012"

    album = sp.album(tracks[0]["album"]["id"])
    page = sp.album_tracks(album["id"], limit=2)
    names = [t["name"] for t in page["items"]]
    while page["next"]:
        assert page["next"].startswith(sp.prefix)  # back through backbeat, not around it
        page = sp.next(page)
        names += [t["name"] for t in page["items"]]
    assert names == [t["name"] for t in album["tracks"]["items"]]
    assert page["previous"] is None or page["previous"].startswith(sp.prefix)

    searches = requests_to(httpx.get(f"{deployment.simulator}/_sim/stats").json()["apps"], "search")
    assert sp.search(q="love", limit=5, type="track")["tracks"]["items"] == tracks
    stats = httpx.get(f"{deployment.simulator}/_sim/stats").json()["apps"]
    assert requests_to(stats, "search") == searches  # answered from backbeat's cache

    stranger = spotipy.Spotify(auth="not-a-backbeat-token", retries=0)
    stranger.prefix = sp.prefix
    with pytest.raises(spotipy.SpotifyException) as refused:
        stranger.current_user()
    assert refused.value.http_status == 401


async def test_spotipy_through_backbeat(deployment: Deployment) -> None:
    token = await api_token_of(deployment, "user0012")
    await asyncio.to_thread(spotipy_session, deployment, token)  # spotipy blocks


async def test_a_user_over_the_passthrough_rate_is_refused_in_spotifys_shape(
    deployment: Deployment,
) -> None:
    # 40 per 30 s per user by default: the same cached search, so nothing else is measured.
    token = await api_token_of(deployment, "user0011")
    query = {"q": "night", "type": "track", "limit": 1}
    async with httpx.AsyncClient(base_url=deployment.api, headers=bearer(token)) as client:
        statuses = [(await client.get("/v1/search", params=query)) for _ in range(42)]
    assert [r.status_code for r in statuses[:40]] == [200] * 40
    refused = statuses[40]
    assert refused.status_code == 429
    assert refused.json()["error"]["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
