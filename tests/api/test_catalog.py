"""`GET /api/search` through backbeat's client, in pages a development-mode app may ask for."""

from __future__ import annotations

import httpx

from tests.api.deployment import Deployment


async def test_search_pages_up_to_the_limit(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    artists = (await alice.get("/api/search", params={"q": "a", "type": "artist"})).json()
    assert artists["type"] == "artist"
    assert 0 < len(artists["items"]) <= 10
    name = artists["items"][0]["name"]
    tracks = await alice.get("/api/search", params={"q": name, "type": "track", "limit": 25})
    assert tracks.status_code == 200
    body = tracks.json()
    assert len(body["items"]) == min(25, body["total"])
    assert len({track["id"] for track in body["items"]}) == len(body["items"])  # no page twice
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        stats = (await sim.get("/_sim/stats")).json()
    searches = sum(
        app["by_endpoint"].get("search", {}).get("requests", 0) for app in stats["apps"].values()
    )
    assert searches >= 1 + (min(25, body["total"]) + 9) // 10  # pages of at most 10


async def test_bad_searches_are_422(alice: httpx.AsyncClient) -> None:
    for params in ({"q": ""}, {"q": "x", "type": "playlist"}, {"q": "x", "limit": 51}):
        response = await alice.get("/api/search", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["message"]


async def test_an_album_by_id_and_a_bad_id(alice: httpx.AsyncClient) -> None:
    found = (await alice.get("/api/search", params={"q": "a", "type": "album"})).json()
    album_id = found["items"][0]["id"]
    album = await alice.get(f"/api/albums/{album_id}")
    assert album.status_code == 200
    assert album.json()["id"] == album_id
    assert album.json()["tracks"]["items"]
    assert (await alice.get("/api/albums/not-an-id")).status_code == 422
    assert (await alice.get(f"/api/albums/{'Z' * 22}")).status_code == 404
