"""The workload of `bench catalog`: the song ranker and the recommendations client used by N
users of one shared catalog, through backbeat's HTTP API.

Each user has favourite artists drawn from the simulator's catalog with Zipf weights 1/rank^s
(rank by popularity, as the simulator's `taste_zipf` draws tastes), and two favourite tracks of
each, drawn as the simulator draws a user's liked tracks (the artist's tracks, most popular
first, at an index ~ Exp(0.3)), in the order drawn. For each favourite artist the user:

1. searches for the artist by name (`GET /api/search?type=artist`) and takes the one they
   mean (several artists may share a name);
2. searches for its albums (`GET /api/search?type=album&q=artist:"…"`, 20 results) and opens
   each of the artist's (`GET /api/albums/{id}`);
3. starts a ranking session over the artist's songs (`POST /api/ranking/sessions` with
   `artist_id`: backbeat walks the artist's whole catalog);
4. asks the audio features of the session's songs (`GET /api/audio-features`, the first 40);
5. asks recommendations seeded with the two favourite tracks (`GET /api/recommendations`).

`concurrency` coroutines take users one at a time; every request goes to the next API process
in turn, so sharing across processes is what is measured. The plan is drawn from `seed` alone:
every run with the same arguments asks the same things.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from backbeat.simulator.catalog import Catalog

SEEDS = 2  # favourite tracks per artist, the recommendations' seeds
TRACK_TASTE = 0.3  # the rate of the simulator's Exp(·) over an artist's tracks (users.py)
ALBUM_RESULTS = 20
FEATURES = 40  # the most /api/audio-features takes at once


@dataclass(frozen=True, slots=True)
class Favourite:
    artist_id: str
    name: str
    seeds: tuple[str, ...]  # Spotify track ids, in the order the user picked them


@dataclass(frozen=True, slots=True)
class UserPlan:
    name: str
    favourites: tuple[Favourite, ...]


@dataclass(frozen=True, slots=True)
class Call:
    route: str
    status: int  # 0: no answer (timeout, connection error)
    seconds: float


@dataclass(slots=True)
class Record:
    calls: list[Call] = field(default_factory=list)
    not_found: int = 0  # favourite artists the search did not show


def plan(
    catalog: Catalog, users: list[str], favourites: int, zipf: float, seed: int
) -> list[UserPlan]:
    """Every user's favourite artists (distinct, Zipf-weighted by popularity rank) and tracks."""
    ranked = sorted(catalog.artists.values(), key=lambda a: (-a.popularity, a.id))
    weights = [1 / (rank + 1) ** zipf for rank in range(len(ranked))]
    count = min(favourites, len(ranked))
    plans = []
    for name in users:
        rng = random.Random(f"{seed}:{name}")
        chosen: dict[str, None] = {}
        while len(chosen) < count:
            chosen[rng.choices(ranked, weights)[0].id] = None
        picks = tuple(
            Favourite(a, catalog.artists[a].name, _tracks(catalog, a, rng)) for a in chosen
        )
        plans.append(UserPlan(name, picks))
    return plans


def _tracks(catalog: Catalog, artist_id: str, rng: random.Random) -> tuple[str, ...]:
    tracks = catalog.artist_tracks(artist_id)
    picked: dict[str, None] = {}
    for _ in range(SEEDS * 10):
        if len(picked) >= min(SEEDS, len(tracks)):
            break
        picked[tracks[min(len(tracks) - 1, int(rng.expovariate(TRACK_TASTE)))].id] = None
    return tuple(picked)


async def run_users(
    ports: list[int], plans: list[UserPlan], tokens: dict[str, str], concurrency: int
) -> Record:
    """Every plan carried out by `concurrency` coroutines, requests spread over the APIs."""
    record = Record()
    apis = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=120) for p in ports]
    turn = itertools.count()
    pending: asyncio.Queue[UserPlan] = asyncio.Queue()
    for user in plans:
        pending.put_nowait(user)

    async def worker() -> None:
        while not pending.empty():
            user = pending.get_nowait()
            session = _Session(apis, turn, tokens[user.name], record)
            for favourite in user.favourites:
                await session.visit(favourite)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        for api in apis:
            await api.aclose()
    return record


class _Session:
    """One user's requests, each to the next API process, timed and recorded."""

    def __init__(
        self, apis: list[httpx.AsyncClient], turn: Iterator[int], token: str, record: Record
    ) -> None:
        self.apis = apis
        self.turn = turn
        self.headers = {"Authorization": f"Bearer {token}"}
        self.record = record

    async def visit(self, favourite: Favourite) -> None:
        found = await self.ask(
            "search_artist", "GET", "/api/search", q=favourite.name, type="artist"
        )
        artists = found.get("items", []) if found else []
        named = [a["id"] for a in artists if a["name"] == favourite.name]
        artist = favourite.artist_id if favourite.artist_id in named else None
        if artist is None:
            self.record.not_found += 1
            return
        query = f'artist:"{favourite.name}"'
        albums = await self.ask(
            "search_album", "GET", "/api/search", q=query, type="album", limit=ALBUM_RESULTS
        )
        for album in (albums or {}).get("items", []):
            if any(a["id"] == artist for a in album["artists"]):
                await self.ask("albums", "GET", f"/api/albums/{album['id']}")
        session = await self.ask(
            "ranking_sessions", "POST", "/api/ranking/sessions", json={"artist_id": artist}
        )
        songs = [song["spotify_id"] for song in (session or {}).get("songs", [])]
        if songs:
            ids = ",".join(songs[:FEATURES])
            await self.ask("audio_features", "GET", "/api/audio-features", ids=ids)
        if favourite.seeds:
            seeds = ",".join(favourite.seeds)
            await self.ask("recommendations", "GET", "/api/recommendations", seed_tracks=seeds)

    async def ask(
        self, route: str, method: str, path: str, json: Any = None, **params: str | int
    ) -> Any:
        """The JSON answer of a 2xx, else None; every request recorded."""
        api = self.apis[next(self.turn) % len(self.apis)]
        began = time.perf_counter()
        try:
            answer = await api.request(method, path, params=params, json=json, headers=self.headers)
        except httpx.HTTPError:
            self.record.calls.append(Call(route, 0, time.perf_counter() - began))
            return None
        self.record.calls.append(Call(route, answer.status_code, time.perf_counter() - began))
        return answer.json() if answer.is_success else None
