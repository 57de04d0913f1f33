"""Recommendations through the whole upstream stack against the in-process simulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backbeat.config import SimulatorSettings
from backbeat.domain.recommendations import (
    MAX_FEATURES,
    RecommendationService,
    UnknownSeeds,
)
from backbeat.errors import InvalidRequest
from backbeat.upstream.stack import UpstreamStack
from tests.spotify.stack_fixtures import simulated_stack

MISSING = "0" * 22  # well formed, in no catalog


def service_of(stack: UpstreamStack) -> RecommendationService:
    return RecommendationService(stack.spotify, stack.reccobeats)


async def some_tracks(stack: UpstreamStack, count: int) -> list[str]:
    found = await stack.spotify.search("a", limit=min(count, 50))
    assert found.tracks is not None
    return [track.id for track in found.tracks.items][:count]


async def requests(plain: httpx.AsyncClient) -> dict[str, Any]:
    apps: dict[str, Any] = (await plain.get("/_sim/stats")).json()["apps"]
    return {app: counts["requests"] for app, counts in apps.items()}


async def test_recommendations_are_described_by_spotify() -> None:
    async with simulated_stack() as (stack, _, _):
        seeds = await some_tracks(stack, 2)

        result = await service_of(stack).recommend(seeds, size=10)

        assert result.seeds == seeds
        assert 0 < len(result.tracks) <= 10
        ids = [track.id for track in result.tracks]
        assert len(set(ids)) == len(ids)
        assert not set(ids) & set(seeds)
        truth = await stack.spotify.tracks(ids)
        for item, track in zip(result.tracks, truth, strict=True):
            assert track is not None
            assert item.on_spotify
            assert (item.name, item.album_id, item.popularity) == (
                track.name,
                track.album.id,
                track.popularity,
            )
            assert [a.id for a in item.artists] == [a.id for a in track.artists]
            assert item.image_url
            assert item.uri == f"spotify:track:{item.id}"
            assert item.reccobeats_id
            assert item.features is None  # not asked for


async def test_a_repeat_is_answered_from_the_cache() -> None:
    async with simulated_stack() as (stack, plain, _):
        seeds = await some_tracks(stack, 3)
        service = service_of(stack)
        first = await service.recommend(seeds, size=8)
        before = await requests(plain)
        sent = stack.reccobeats_upstream.upstream_requests, stack.spotify_upstream.upstream_requests

        again = await service.recommend(list(seeds), size=8)

        assert again == first
        assert await requests(plain) == before
        assert before["reccobeats"] == 2  # the seeds checked once, recommended once
        assert (
            stack.reccobeats_upstream.upstream_requests,
            stack.spotify_upstream.upstream_requests,
        ) == sent


@pytest.mark.parametrize(
    ("seeds", "size", "field"),
    [
        ([], 20, "seed_track_ids"),
        ([f"{i}" * 22 for i in range(6)], 20, "seed_track_ids"),
        (["not-a-track-id"], 20, "seed_track_ids"),
        ([MISSING], 0, "size"),
        ([MISSING], 101, "size"),
    ],
)
async def test_bad_requests_are_refused_before_any_call(
    seeds: list[str], size: int, field: str
) -> None:
    async with simulated_stack() as (stack, plain, _):
        with pytest.raises(InvalidRequest) as refused:
            await service_of(stack).recommend(seeds, size=size)
        assert refused.value.field == field
        assert await requests(plain) == {}


async def test_five_seeds_are_enough_and_duplicates_count_once() -> None:
    async with simulated_stack() as (stack, _, _):
        seeds = await some_tracks(stack, 5)
        service = service_of(stack)
        result = await service.recommend([*seeds, seeds[0]], size=5)
        assert result.seeds == seeds
        assert (await service.recommend(seeds[0], size=5)).seeds == [seeds[0]]  # one id, a str


async def test_unknown_seeds_are_named() -> None:
    async with simulated_stack() as (stack, _, _):
        [known] = await some_tracks(stack, 1)
        with pytest.raises(UnknownSeeds) as refused:
            await service_of(stack).recommend([known, MISSING])
        assert refused.value.ids == [MISSING]
        assert isinstance(refused.value, InvalidRequest)  # a 422 for the API


async def test_features_on_request() -> None:
    async with simulated_stack() as (stack, _, _):
        seeds = await some_tracks(stack, 1)
        service = service_of(stack)
        result = await service.recommend(seeds, size=5, features=True)
        assert result.tracks
        for item in result.tracks:
            assert item.features is not None
            assert item.features.id == item.id
        with pytest.raises(InvalidRequest):
            await service.recommend(seeds, size=MAX_FEATURES + 1, features=True)


async def test_audio_features_in_batches_of_forty() -> None:
    async with simulated_stack() as (stack, _, _):
        ids = await some_tracks(stack, 3)
        service = service_of(stack)

        found = await service.audio_features([*ids, MISSING])

        assert [f.id for f in found.features] == ids
        assert found.missing == [MISSING]
        with pytest.raises(InvalidRequest) as refused:
            await service.audio_features([f"{i:022d}" for i in range(MAX_FEATURES + 1)])
        assert refused.value.field == "track_ids"
        with pytest.raises(InvalidRequest):
            await service.audio_features([])


async def test_development_mode_takes_features_from_reccobeats() -> None:
    simulator = SimulatorSettings(artists=60, users=20, mode="development")
    async with simulated_stack(simulator) as (stack, plain, _):
        ids = await some_tracks(stack, 2)
        found = await service_of(stack).audio_features(ids)
        assert [f.id for f in found.features] == ids
        stats = (await plain.get("/_sim/stats")).json()["apps"]["reccobeats"]
        assert stats["by_endpoint"]["track_audio_features"]["requests"] == 2


async def test_seed_checks_are_cached_per_track() -> None:
    async with simulated_stack() as (stack, plain, _):
        a, b, c = await some_tracks(stack, 3)

        async def seed_checks() -> int:
            apps: dict[str, Any] = (await plain.get("/_sim/stats")).json()["apps"]
            return sum(
                app["by_endpoint"].get("track", {}).get("requests", 0)
                for name, app in apps.items()
                if "track_recommendation" in app["by_endpoint"] or name.startswith("reccobeats")
            )

        found = await stack.reccobeats.tracks([a, b])
        assert [t.spotify_id if t else None for t in found] == [a, b]
        assert await seed_checks() == 1
        # b is known now: only c is asked for, and a repeat asks nothing.
        again = await stack.reccobeats.tracks([b, c, MISSING])
        assert [t.spotify_id if t else None for t in again] == [b, c, None]
        assert await seed_checks() == 2
        await stack.reccobeats.tracks([c, b, a])
        assert await seed_checks() == 2
