"""The simulated ReccoBeats: Spotify IDs accepted, unknown ids left out, its own budget."""

from __future__ import annotations

import httpx

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import create_app
from backbeat.simulator.reccobeats import recco_id


def _client(**options: object) -> httpx.AsyncClient:
    settings = SimulatorSettings.model_validate({"artists": 40, "users": 5, **options})
    transport = httpx.ASGITransport(app=create_app(settings, FakeClock()))
    return httpx.AsyncClient(transport=transport, base_url="http://sim/reccobeats/v1")


async def test_tracks_by_spotify_or_reccobeats_ids_unknown_ones_left_out() -> None:
    async with _client() as c:
        found = (await c.get("/artist/search", params={"searchText": "a"})).json()
        assert found["totalElements"] > 0
        artist = found["content"][0]
        tracks = (await c.get(f"/artist/{artist['id']}/track", params={"size": 3})).json()
        assert len(tracks["content"]) == 3
        spotify_ids = [t["href"].rsplit("/", 1)[1] for t in tracks["content"]]

        mixed = [spotify_ids[0], recco_id(spotify_ids[1]), "0" * 22]
        answer = (await c.get("/track", params={"ids": ",".join(mixed)})).json()
        assert [t["href"].rsplit("/", 1)[1] for t in answer["content"]] == spotify_ids[:2]
        too_many = await c.get("/track", params={"ids": ",".join([spotify_ids[0]] * 41)})
        assert too_many.status_code == 400


async def test_audio_features_match_spotifys_for_the_same_track() -> None:
    async with _client() as c:
        artist = (await c.get("/artist/search", params={"searchText": "e"})).json()["content"][0]
        track = (await c.get(f"/artist/{artist['id']}/track")).json()["content"][0]
        spotify_id = track["href"].rsplit("/", 1)[1]
        features = (await c.get(f"/track/{spotify_id}/audio-features")).json()

        token = (
            await c.post(
                "http://sim/api/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "backbeat-dev",
                    "client_secret": "backbeat-dev-secret",
                },
            )
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        spotify = await c.get(f"http://sim/v1/audio-features/{spotify_id}", headers=headers)
        for name in ("energy", "valence", "tempo", "danceability"):
            assert features[name] == spotify.json()[name]
        assert (await c.get("/track/" + "0" * 22 + "/audio-features")).status_code == 404


async def test_recommendations_from_seeds() -> None:
    async with _client() as c:
        artist = (await c.get("/artist/search", params={"searchText": "o"})).json()["content"][0]
        seeds = [t["id"] for t in (await c.get(f"/artist/{artist['id']}/track")).json()["content"]]
        recs = (await c.get("/track/recommendation", params={"seeds": ",".join(seeds[:2]),
                                                             "size": 5})).json()  # fmt: skip
        assert len(recs["content"]) == 5
        assert not set(seeds[:2]) & {t["id"] for t in recs["content"]}
        bad = await c.get("/track/recommendation", params={"seeds": seeds[0], "size": 500})
        assert bad.status_code == 400


async def test_reccobeats_has_its_own_window() -> None:
    async with _client(reccobeats_limit=3, reccobeats_window=60) as c:
        statuses = [(await c.get("/artist/search", params={"searchText": "a"})).status_code
                    for _ in range(5)]  # fmt: skip
        assert statuses == [200, 200, 200, 429, 429]
        stats = (await c.get("http://sim/_sim/stats")).json()["apps"]["reccobeats"]
        assert (stats["max_in_window"], stats["http_429"], stats["limit"]) == (3, 2, 3)
