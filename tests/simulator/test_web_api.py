"""Web API behaviour beyond the schemas: errors, limits, modes, cursors, permissions, faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from tests.simulator.sim_client import app_token, basic, bearer, user_token


@asynccontextmanager
async def simulator(**options: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = SimulatorSettings.model_validate({"artists": 40, "users": 12, **options})
    app = create_app(settings, FakeClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


async def _some_track_ids(c: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[str]:
    found = await c.get(
        "/v1/search", params={"q": "a", "type": "track", "limit": n}, headers=headers
    )
    return [t["id"] for t in found.json()["tracks"]["items"]]


async def test_tokens_are_required_and_checked() -> None:
    async with simulator() as c:
        missing = await c.get("/v1/tracks/4iV5W9uYEdYUVa79Axb7Rh")
        assert missing.status_code == 401
        assert missing.json() == {"error": {"status": 401, "message": "No token provided"}}
        wrong = await c.get("/v1/me", headers=bearer("nope"))
        assert wrong.json()["error"]["message"] == "Invalid access token"
        app_only = await c.get("/v1/me", headers=bearer(await app_token(c)))
        assert app_only.status_code == 401


async def test_parameter_limits_answer_400_with_spotify_bodies() -> None:
    async with simulator() as c:
        h = bearer(await app_token(c))
        ids = await _some_track_ids(c, h, 1)
        album_id = (await c.get(f"/v1/tracks/{ids[0]}", headers=h)).json()["album"]["id"]
        cases = {
            f"/v1/albums/{album_id}/tracks?limit=51": "Invalid limit",
            f"/v1/albums/{album_id}/tracks?limit=abc": "Invalid limit",
            "/v1/search?q=a&type=track&offset=1001": "Invalid offset",
            "/v1/search?q=a&type=song": "Bad search type field",
            "/v1/search?type=track": "No search query",
            "/v1/tracks?ids=" + ",".join([ids[0]] * 51): "Too many ids requested",
            "/v1/albums?ids=" + ",".join([album_id] * 21): "Too many ids requested",
            "/v1/tracks/not-an-id": "Invalid base62 id",
        }
        for url, message in cases.items():
            response = await c.get(url, headers=h)
            assert response.status_code == 400, url
            assert response.json() == {"error": {"status": 400, "message": message}}, url
        unknown = await c.get("/v1/tracks/" + "0" * 22, headers=h)
        assert unknown.status_code == 404
        assert (await c.get("/v1/nothing-here", headers=h)).json()["error"]["status"] == 404


async def test_trailing_slashes_are_served_like_spotify() -> None:
    async with simulator() as c:
        h = bearer(await user_token(c))
        assert (await c.get("/v1/me/", headers=h)).json()["id"] == "user0000"
        ids = await _some_track_ids(c, h, 2)
        several = await c.get("/v1/tracks/", params={"ids": ",".join(ids)}, headers=h)
        assert [t["id"] for t in several.json()["tracks"]] == ids


async def test_development_mode_removes_endpoints_and_caps_users() -> None:
    async with simulator(mode="development", development_users=5) as c:
        h = bearer(await app_token(c))
        ids = await _some_track_ids(c, h, 2)
        assert len(ids) == 2
        for url in (f"/v1/tracks?ids={','.join(ids)}", f"/v1/audio-features/{ids[0]}",
                    f"/v1/recommendations?seed_tracks={ids[0]}"):  # fmt: skip
            assert (await c.get(url, headers=h)).status_code == 403, url
        assert (await c.get(f"/v1/tracks/{ids[0]}", headers=h)).status_code == 200
        capped = await c.get(
            "/v1/search", params={"q": "a", "type": "track", "limit": 11}, headers=h
        )
        assert capped.status_code == 400

        for index in range(5):
            user = f"user{index:04d}"
            me = await c.get("/v1/me", headers=bearer(await user_token(c, user)))
            assert me.json()["id"] == user
        sixth = await c.get("/v1/me", headers=bearer(await user_token(c, "user0005")))
        assert sixth.status_code == 403


async def test_extended_mode_keeps_batch_gets_features_and_recommendations() -> None:
    async with simulator(mode="extended") as c:
        h = bearer(await app_token(c))
        ids = await _some_track_ids(c, h, 3)
        features = await c.get("/v1/audio-features", params={"ids": ",".join(ids)}, headers=h)
        assert [f["id"] for f in features.json()["audio_features"]] == ids
        recs = await c.get("/v1/recommendations", params={"seed_tracks": ids[0], "limit": 7},
                           headers=h)  # fmt: skip
        body = recs.json()
        assert len(body["tracks"]) == 7
        assert ids[0] not in [t["id"] for t in body["tracks"]]
        assert body["seeds"][0]["id"] == ids[0]
        same = await c.get("/v1/recommendations", params={"seed_tracks": ids[0], "limit": 7},
                           headers=h)  # fmt: skip
        assert same.json()["tracks"] == body["tracks"]


async def test_recently_played_pages_backwards_through_cursors() -> None:
    async with simulator() as c:
        h = bearer(await user_token(c, "user0001"))
        first = (await c.get("/v1/me/player/recently-played?limit=20", headers=h)).json()
        assert len(first["items"]) == 20
        older = (await c.get(first["next"].replace("http://sim", ""), headers=h)).json()
        newest_older = older["items"][0]["played_at"]
        assert newest_older < first["items"][-1]["played_at"]
        both = await c.get("/v1/me/player/recently-played?after=1&before=2", headers=h)
        assert both.status_code == 400


async def test_playlist_permissions_and_bad_bodies() -> None:
    async with simulator() as c:
        owner = bearer(await user_token(c, "user0001"))
        other = bearer(await user_token(c, "user0002"))
        created = await c.post("/v1/me/playlists", json={"name": "mine"}, headers=owner)
        assert created.status_code == 201
        playlist_id = created.json()["id"]
        track_ids = await _some_track_ids(c, owner, 2)
        uris = [f"spotify:track:{t}" for t in track_ids]

        assert (await c.post(f"/v1/playlists/{playlist_id}/items", json={"uris": uris},
                             headers=other)).status_code == 403  # fmt: skip
        assert (await c.post("/v1/users/user0001/playlists", json={"name": "x"},
                             headers=other)).status_code == 403  # fmt: skip
        bad_json = await c.post("/v1/me/playlists", content=b"{nope", headers=owner)
        assert bad_json.json() == {"error": {"status": 400, "message": "Error parsing JSON."}}
        assert (await c.post("/v1/me/playlists", json={}, headers=owner)).status_code == 400
        bad_uri = await c.post(f"/v1/playlists/{playlist_id}/items",
                               json={"uris": ["spotify:album:x"]}, headers=owner)  # fmt: skip
        assert bad_uri.status_code == 400

        added = await c.post(f"/v1/playlists/{playlist_id}/tracks", json={"uris": uris},
                             headers=owner)  # fmt: skip
        assert added.status_code == 201
        first = await c.post(f"/v1/playlists/{playlist_id}/items",
                             params={"uris": uris[1], "position": 0}, headers=owner)  # fmt: skip
        assert first.status_code == 201
        items = (await c.get(f"/v1/playlists/{playlist_id}/items", headers=owner)).json()
        assert [i["item"]["id"] for i in items["items"]] == [track_ids[1], *track_ids]


async def test_scopes_are_enforced() -> None:
    async with simulator() as c:
        response = await c.get(
            "/authorize",
            params={"client_id": "backbeat-dev", "response_type": "code", "sim_user": "user0003",
                    "redirect_uri": "http://127.0.0.1:9/cb", "scope": "user-read-private"},
        )  # fmt: skip
        code = response.headers["location"].split("code=")[1].split("&")[0]
        token = await c.post("/api/token", headers=basic(), data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb"})  # fmt: skip
        h = bearer(token.json()["access_token"])
        assert (await c.get("/v1/me", headers=h)).status_code == 200
        top = await c.get("/v1/me/top/tracks", headers=h)
        assert top.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}


async def test_injected_server_errors_are_counted() -> None:
    async with simulator(error_rate=1.0) as c:
        h = bearer(await app_token(c))
        statuses = {(await c.get("/v1/search?q=a&type=track", headers=h)).status_code
                    for _ in range(30)}  # fmt: skip
        assert statuses <= {500, 502, 503}
        assert len(statuses) > 1
        stats = (await c.get("/_sim/stats")).json()["apps"]["backbeat-dev"]
        assert (stats["http_5xx"], stats["successes"]) == (30, 0)


async def test_time_scale_shortens_retry_after() -> None:
    async with simulator(limit=2, window=30, time_scale=100) as c:
        h = bearer(await app_token(c))
        for _ in range(2):
            assert (await c.get("/v1/search?q=a&type=track", headers=h)).status_code == 200
        limited = await c.get("/v1/search?q=a&type=track", headers=h)
        assert limited.status_code == 429
        assert 0 < float(limited.headers["Retry-After"]) <= 0.3


async def test_daily_quota_is_a_long_ban_with_a_reason() -> None:
    async with simulator(limit=100, daily_quota=3) as c:
        h = bearer(await app_token(c))
        for _ in range(3):
            assert (await c.get("/v1/search?q=a&type=track", headers=h)).status_code == 200
        banned = await c.get("/v1/search?q=a&type=track", headers=h)
        assert banned.status_code == 429
        assert banned.json()["error"]["reason"] == "QUOTA_EXCEEDED"
        assert int(banned.headers["Retry-After"]) > 3600
