"""The song ranker over HTTP against the simulator: sessions, duels, undo, rankings, a rank-all
import beside interactive use, leaderboards under concurrent duels, recommendations."""

from __future__ import annotations

import asyncio
import statistics
import time
from itertools import pairwise
from typing import Any

import httpx

from backbeat.simulator.catalog import Catalog
from tests.api.deployment import Deployment, browser, finished, log_in_as


def largest_artist() -> str:
    """The deployment's simulator catalog (seed 42, 60 artists): the artist with most albums."""
    catalog = Catalog(42, 60)
    return max(catalog.artists, key=lambda artist: len(catalog.artist_albums[artist]))


async def new_session(client: httpx.AsyncClient, artist_id: str) -> dict[str, Any]:
    response = await client.post("/api/ranking/sessions", json={"artist_id": artist_id})
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


async def duel(client: httpx.AsyncClient, session_id: str, outcome: str = "a") -> dict[str, Any]:
    pair = (await client.get(f"/api/ranking/sessions/{session_id}/next")).json()
    response = await client.post(
        f"/api/ranking/sessions/{session_id}/duels",
        json={"a": pair["a"]["id"], "b": pair["b"]["id"], "outcome": outcome},
    )
    assert response.status_code == 201, response.text
    recorded: dict[str, Any] = response.json()
    return recorded


async def test_a_session_of_duels_ranks_its_owners_songs(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    artist = largest_artist()
    session = await new_session(alice, artist)
    songs = session["songs"]
    assert len(songs) >= 10
    assert {"id", "name"} <= set(songs[0])
    isrcs = [song["isrc"] for song in songs if song["isrc"]]
    assert len(isrcs) == len(set(isrcs))  # one release per recording
    assert not [song["name"] for song in songs if "remaster" in song["name"].lower()]

    # The first song in id order wins every duel it is in; the rest are decided by id.
    for _ in range(12):
        pair = (await alice.get(f"/api/ranking/sessions/{session['id']}/next")).json()
        a, b = pair["a"]["id"], pair["b"]["id"]
        outcome = "a" if a < b else "b"
        response = await alice.post(
            f"/api/ranking/sessions/{session['id']}/duels",
            json={"a": a, "b": b, "outcome": outcome},
        )
        assert response.status_code == 201
    skip = await duel(alice, session["id"], "skip")
    assert skip["outcome"] == "skip"
    undone = await alice.delete(f"/api/ranking/sessions/{session['id']}/duels/last")
    assert undone.status_code == 200
    assert undone.json()["comparison_id"] == skip["comparison_id"]

    task = (await alice.post(f"/api/ranking/sessions/{session['id']}/rank")).json()
    assert (await finished(alice, task["task_id"]))["status"] == "succeeded"
    ranked = (await alice.get(f"/api/ranking/sessions/{session['id']}")).json()
    assert ranked["duels"] == 12
    assert 0 <= ranked["convergence"] <= 1
    scores = [entry["score"] for entry in ranked["ranking"] if entry["score"] is not None]
    assert all(a >= b - 1e-9 for a, b in pairwise(scores))  # best first (equal ones by id)
    top = ranked["ranking"][0]
    assert top["losses"] == 0
    assert top["wins"] >= 1

    async with browser(deployment) as bob:
        await log_in_as(bob, "user0009")
        base = f"/api/ranking/sessions/{session['id']}"
        for method, path in [("GET", base), ("GET", f"{base}/next"),
                             ("DELETE", f"{base}/duels/last"), ("DELETE", base)]:  # fmt: skip
            assert (await bob.request(method, path)).status_code == 404, (method, path)
        refused = await bob.post(f"{base}/duels", json={"a": 1, "b": 2, "outcome": "a"})
        assert refused.status_code == 404
    assert (await alice.get(f"/api/ranking/sessions/{session['id']}")).status_code == 200


async def test_bad_ranking_requests_are_4xx(alice: httpx.AsyncClient) -> None:
    both = {"artist_id": "abc", "playlist_id": "def"}
    assert (await alice.post("/api/ranking/sessions", json=both)).status_code == 422
    assert (await alice.post("/api/ranking/sessions", json={})).status_code == 422
    session = await new_session(alice, largest_artist())
    songs = [song["id"] for song in session["songs"]]
    path = f"/api/ranking/sessions/{session['id']}/duels"
    same = await alice.post(path, json={"a": songs[0], "b": songs[0], "outcome": "a"})
    assert same.status_code == 422
    foreign = await alice.post(path, json={"a": songs[0], "b": 10**9, "outcome": "a"})
    assert foreign.status_code == 422
    bad = await alice.post(path, json={"a": songs[0], "b": songs[1], "outcome": "draw"})
    assert bad.status_code == 422
    nothing = await alice.delete(f"/api/ranking/sessions/{session['id']}/duels/last")
    assert nothing.status_code == 404


async def test_rank_all_imports_while_duels_and_searches_stay_fast(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    artist = largest_artist()
    started = await alice.post("/api/ranking/import", json={"artist_id": artist})
    assert started.status_code == 202
    task_id, session_id = started.json()["task_id"], started.json()["session_id"]
    latencies: list[float] = []

    async def interactive() -> None:
        # Duels as soon as two songs are in; searches all along.
        while (await alice.get(f"/api/tasks/{task_id}")).json()["status"] != "succeeded":
            began = time.perf_counter()
            await alice.get("/api/search", params={"q": "night", "type": "track"})
            latencies.append(time.perf_counter() - began)
            view = (await alice.get(f"/api/ranking/sessions/{session_id}")).json()
            if len(view["songs"]) >= 2:
                began = time.perf_counter()
                await duel(alice, session_id)
                latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(interactive(), timeout=120)
    task = await finished(alice, task_id)
    assert task["status"] == "succeeded", task
    assert task["result"]["albums"] > 1
    session = (await alice.get(f"/api/ranking/sessions/{session_id}")).json()
    assert len(session["songs"]) == task["result"]["songs_added"]
    async with httpx.AsyncClient(base_url=deployment.simulator) as sim:
        stats = (await sim.get("/_sim/stats")).json()
    assert sum(app["http_429"] for app in stats["apps"].values()) == 0
    if latencies:
        print(  # the test output carries the interactive latency during the import
            f"\ninteractive calls during the import: {len(latencies)}, "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )


async def test_concurrent_duels_all_reach_the_artists_leaderboard(
    deployment: Deployment, alice: httpx.AsyncClient
) -> None:
    artist = largest_artist()
    clients = [alice]
    async with browser(deployment) as bob, browser(deployment) as carol:
        await log_in_as(bob, "user0011")
        await log_in_as(carol, "user0012")
        clients += [bob, carol]
        sessions = [(client, (await new_session(client, artist))["id"]) for client in clients]
        pairs = {}
        for client, session_id in sessions:
            view = (await client.get(f"/api/ranking/sessions/{session_id}")).json()
            pairs[session_id] = [song["id"] for song in view["songs"]]

        async def one(n: int) -> int:
            client, session_id = sessions[n % len(sessions)]
            songs = pairs[session_id]
            a, b = songs[n % len(songs)], songs[(n + 1) % len(songs)]
            response = await client.post(
                f"/api/ranking/sessions/{session_id}/duels",
                json={"a": a, "b": b, "outcome": "tie" if n % 7 == 0 else "a"},
            )
            return response.status_code

        assert await asyncio.gather(*(one(n) for n in range(50))) == [201] * 50

        deadline = time.monotonic() + 120
        while True:
            board = await alice.get(f"/api/leaderboards/{artist}")
            if board.status_code == 200 and board.json()["comparison_count"] == 50:
                break
            assert time.monotonic() < deadline, board.text
            await asyncio.sleep(0.5)
    assert board.json()["session_count"] == 3


async def test_recommendations_from_ranked_songs(alice: httpx.AsyncClient) -> None:
    session = await new_session(alice, largest_artist())
    seeds = [song["spotify_id"] for song in session["songs"][:3]]
    found = await alice.get("/api/recommendations", params={"seed_tracks": ",".join(seeds)})
    assert found.status_code == 200, found.text
    tracks = found.json()["tracks"]
    assert tracks
    assert all(track["name"] and track["artists"] for track in tracks)
    assert not set(seeds) & {track["id"] for track in tracks}
    six = ",".join(song["spotify_id"] for song in session["songs"][:6])
    assert (await alice.get("/api/recommendations", params={"seed_tracks": six})).status_code == 422
    features = await alice.get("/api/audio-features", params={"ids": ",".join(seeds)})
    assert features.status_code == 200
    assert len(features.json()["features"]) == 3
