"""Batch gets cached per entity, against the in-process simulator: only ids not cached go
upstream, single and batch gets share entries, and the asked-for count stays what the app asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.errors import UpstreamAuthError
from backbeat.simulator import create_app
from backbeat.simulator.catalog import Catalog
from backbeat.spotify.auth import MemoryUserTokens
from backbeat.spotify.client import ENTITIES
from backbeat.upstream.stack import UpstreamStack
from tests.spotify.stack_fixtures import BASE, stack_settings

SIM = SimulatorSettings(artists=80, users=5)
CATALOG = Catalog(SIM.seed, SIM.artists)
ARTISTS = list(CATALOG.artists)
TRACKS = CATALOG.track_ids
ALBUMS = list(CATALOG.albums)
MISSING = "0" * 22


class Recording(httpx.AsyncBaseTransport):
    """The simulator's transport, noting every request it carries."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def ids_asked(self, path: str) -> list[list[str]]:
        """The `ids` of every batch request sent to `path`, in order."""
        return [
            r.url.params["ids"].split(",")
            for r in self.requests
            if r.url.path == f"/v1{path}" and "ids" in r.url.params
        ]

    def paths(self, prefix: str) -> list[str]:
        return [r.url.path for r in self.requests if r.url.path.startswith(f"/v1{prefix}")]


@asynccontextmanager
async def recorded_stack() -> AsyncIterator[tuple[UpstreamStack, Recording, httpx.AsyncClient]]:
    clock = FakeClock()
    app = create_app(SIM, clock)
    sim = httpx.ASGITransport(app=app)
    recording = Recording(sim)
    stack = UpstreamStack(
        stack_settings(), clock, transport=recording, user_tokens=MemoryUserTokens()
    )
    async with httpx.AsyncClient(transport=sim, base_url=BASE) as plain, stack:
        yield stack, recording, plain


async def sim_requests(plain: httpx.AsyncClient, endpoint: str) -> int:
    apps = (await plain.get("/_sim/stats")).json()["apps"]
    counts: dict[str, Any] = apps.get("backbeat-dev", {}).get("by_endpoint", {})
    return int(counts.get(endpoint, {}).get("requests", 0))


def asked(stack: UpstreamStack, endpoint: str) -> float:
    labels = {"app": stack.spotify_upstream.app, "endpoint": endpoint}
    value = stack.metrics.registry.get_sample_value("backbeat_upstream_requests_total", labels)
    return value or 0.0


async def test_an_overlapping_batch_get_fetches_only_the_ids_not_seen() -> None:
    async with recorded_stack() as (stack, recording, plain):
        first = await stack.spotify.artists(ARTISTS[:30])
        second = await stack.spotify.artists(ARTISTS[20:60])

        assert [a.id for a in first if a] == ARTISTS[:30]
        assert [a.id for a in second if a] == ARTISTS[20:60]
        assert recording.ids_asked("/artists") == [ARTISTS[:30], ARTISTS[30:60]]
        assert await sim_requests(plain, "artists") == 2
        assert stack.cache.metrics()["artist"] == {"hits": 10, "misses": 60}


async def test_concurrent_overlapping_batch_gets_fetch_each_id_once() -> None:
    async with recorded_stack() as (stack, recording, plain):
        one, two = await asyncio.gather(
            stack.spotify.tracks(TRACKS[:40]), stack.spotify.tracks(TRACKS[20:70])
        )

        assert [t.id for t in one if t] == TRACKS[:40]
        assert [t.id for t in two if t] == TRACKS[20:70]
        fetched = [i for chunk in recording.ids_asked("/tracks") for i in chunk]
        assert sorted(fetched) == sorted(TRACKS[:70])  # the overlap joined the first's fetch
        assert await sim_requests(plain, "tracks") == 2
        assert stack.spotify.entities.in_flight == 0


async def test_single_gets_after_a_batch_get_need_no_request() -> None:
    async with recorded_stack() as (stack, recording, plain):
        await stack.spotify.tracks(TRACKS[:5])
        await stack.spotify.albums(ALBUMS[:5])
        await stack.spotify.artists(ARTISTS[:5])
        sent = stack.spotify_upstream.upstream_requests
        assert sent == 3

        for track_id in TRACKS[:5]:
            assert (await stack.spotify.track(track_id)).id == track_id
        for album_id in ALBUMS[:5]:
            assert (await stack.spotify.album(album_id)).id == album_id
        for artist_id in ARTISTS[:5]:
            assert (await stack.spotify.artist(artist_id)).id == artist_id

        assert stack.spotify_upstream.upstream_requests == sent
        assert recording.paths("/tracks/") == recording.paths("/albums/") == []
        assert await sim_requests(plain, "track") == 0


async def test_a_batch_get_after_single_gets_fetches_only_the_rest() -> None:
    async with recorded_stack() as (stack, recording, plain):
        for artist_id in ARTISTS[:3]:
            await stack.spotify.artist(artist_id)

        found = await stack.spotify.artists(ARTISTS[:6])

        assert [a.id for a in found if a] == ARTISTS[:6]
        assert recording.ids_asked("/artists") == [ARTISTS[3:6]]
        assert await sim_requests(plain, "artist") == 3


async def test_the_asked_for_count_keeps_the_chunks_asked_even_when_all_are_cached() -> None:
    async with recorded_stack() as (stack, _, plain):
        ids = ARTISTS[:60] + ARTISTS[:10]  # 60 distinct: two chunks of at most 50
        await stack.spotify.artists(ids)
        assert asked(stack, "artists") == 2
        assert await sim_requests(plain, "artists") == 2

        await stack.spotify.artists(ids)  # all from the cache
        await stack.spotify.artists(ARTISTS[50:55])  # one chunk, also cached

        assert asked(stack, "artists") == 5
        assert await sim_requests(plain, "artists") == 2
        assert asked(stack, "artist") == 0  # the entries are the single get's, not its calls


async def test_order_duplicates_and_missing_ids_are_kept() -> None:
    async with recorded_stack() as (stack, recording, _):
        await stack.spotify.tracks(TRACKS[2:4])  # some of them cached beforehand
        ids = [TRACKS[3], MISSING, TRACKS[0], TRACKS[3], TRACKS[1], TRACKS[2]]

        found = await stack.spotify.tracks(ids)

        assert [t.id if t else None for t in found] == [
            TRACKS[3],
            None,
            TRACKS[0],
            TRACKS[3],
            TRACKS[1],
            TRACKS[2],
        ]
        assert recording.ids_asked("/tracks")[-1] == [MISSING, TRACKS[0], TRACKS[1]]
        # Missing ids are the registry's, never a cached entity: not asked again.
        assert await stack.spotify_upstream.cached_entities("track", "/tracks/{}", [MISSING]) == {}
        assert (await stack.registry.lookup("track", [MISSING]))[MISSING] is False
        again = await stack.spotify.tracks([MISSING, TRACKS[0]])
        assert [t.id if t else None for t in again] == [None, TRACKS[0]]
        assert len(recording.ids_asked("/tracks")) == 2


async def test_audio_features_are_cached_per_track() -> None:
    async with recorded_stack() as (stack, recording, plain):
        first = await stack.spotify.audio_features(TRACKS[:30])
        second = await stack.spotify.audio_features([*TRACKS[10:40], TRACKS[10]])

        assert [f.id for f in first if f] == TRACKS[:30]
        assert [f.id if f else None for f in second] == [*TRACKS[10:40], TRACKS[10]]
        assert recording.ids_asked("/audio-features") == [TRACKS[:30], TRACKS[30:40]]
        assert await sim_requests(plain, "several_audio_features") == 2
        assert asked(stack, "several_audio_features") == 2
        cached = await stack.spotify_upstream.cached_entities(
            "audio_features", "/audio-features/{}", TRACKS[:40]
        )
        assert list(cached) == TRACKS[:40]
        assert stack.cache.ttl("audio_features") == stack.cache.ttl("several_audio_features")


async def test_without_a_cache_every_batch_get_goes_upstream() -> None:
    async with recorded_stack() as (stack, recording, _):
        stack.spotify_upstream.cache = None

        await stack.spotify.artists(ARTISTS[:5])
        found = await stack.spotify.artists(ARTISTS[:5])

        assert [a.id for a in found if a] == ARTISTS[:5]
        assert recording.ids_asked("/artists") == [ARTISTS[:5], ARTISTS[:5]]
        assert asked(stack, "artists") == 2


async def test_a_caller_giving_up_leaves_the_shared_fetch_to_the_others() -> None:
    async with recorded_stack() as (stack, _, _):
        kind = ENTITIES["artists"]
        entities = stack.spotify.entities
        release = asyncio.Event()
        asked_for: list[list[str]] = []

        async def fetch(chunk: list[str]) -> list[Any]:
            asked_for.append(chunk)
            await release.wait()
            return [{"id": i} for i in chunk]

        first = asyncio.create_task(entities.get(kind, ["a", "b"], fetch))
        await asyncio.sleep(0)  # a loop turn, not wall-clock time: the first fetch starts
        second = asyncio.create_task(entities.get(kind, ["b", "c"], fetch))
        await asyncio.sleep(0)
        first.cancel()
        release.set()

        assert await second == {"b": {"id": "b"}, "c": {"id": "c"}}
        assert first.cancelled()
        assert asked_for == [["a", "b"], ["c"]]
        cached = await stack.spotify_upstream.cached_entities(kind.single, kind.path, ["a", "b"])
        assert cached == {"a": {"id": "a"}, "b": {"id": "b"}}  # stored though its caller left
        assert entities.in_flight == 0


async def test_a_failed_fetch_fails_every_caller_and_is_not_kept() -> None:
    async with recorded_stack() as (stack, _, _):
        kind = ENTITIES["tracks"]
        entities = stack.spotify.entities
        release = asyncio.Event()

        async def failing(chunk: list[str]) -> list[Any]:
            await release.wait()
            raise UpstreamAuthError("spotify", "tracks", 403, "batch gets are gone")

        async def working(chunk: list[str]) -> list[Any]:
            return [{"id": i} for i in chunk]

        first = asyncio.create_task(entities.get(kind, ["a"], failing))
        await asyncio.sleep(0)
        second = asyncio.create_task(entities.get(kind, ["a"], working))  # joins the first
        await asyncio.sleep(0)
        release.set()
        for caller in (first, second):
            with pytest.raises(UpstreamAuthError):
                await caller

        assert entities.in_flight == 0
        assert await entities.get(kind, ["a"], working) == {"a": {"id": "a"}}
