"""Audio features and recommendations: gone for development-mode apps, kept for extended ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from backbeat.simulator.api_catalog import find, several
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.gate import Caller, spotify_call
from backbeat.simulator.recommend import FEATURES, Seeds, recommend

router = APIRouter(prefix="/v1")
JSON = dict[str, Any]


@router.get("/audio-features/{track_id}")
async def audio_features(
    track_id: str,
    caller: Annotated[Caller, Depends(spotify_call("audio_features", extended_only=True))],
) -> JSON:
    return caller.render.audio_features(find(caller.sim.catalog.tracks, track_id))


@router.get("/audio-features")
async def several_audio_features(
    request: Request,
    caller: Annotated[
        Caller, Depends(spotify_call("several_audio_features", "batch", extended_only=True))
    ],
) -> JSON:
    tracks = several(request, caller.sim.catalog.tracks, 100)
    return {"audio_features": [caller.render.audio_features(t) if t else None for t in tracks]}


def _csv(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def _bound(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise SpotifyError(400, f"Invalid value for {name}") from None


@router.get("/recommendations")
async def recommendations(
    request: Request,
    caller: Annotated[Caller, Depends(spotify_call("recommendations", extended_only=True))],
) -> JSON:
    params = request.query_params
    catalog = caller.sim.catalog
    seeds = Seeds(
        _csv(params.get("seed_artists")),
        _csv(params.get("seed_tracks")),
        _csv(params.get("seed_genres")),
    )
    if not 1 <= len(seeds) <= 5:
        raise SpotifyError(400, "Between 1 and 5 seeds (artists, tracks, genres) are required")
    for artist_id in seeds.artists:
        if artist_id not in catalog.artists:
            raise SpotifyError(400, f"Invalid artist id {artist_id}")
    for track_id in seeds.tracks:
        if track_id not in catalog.tracks:
            raise SpotifyError(400, f"Invalid track id {track_id}")
    raw_limit = params.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise SpotifyError(400, "Invalid limit")
    bounds = {
        name: (_bound(params.get(f"min_{name}"), f"min_{name}"),
               _bound(params.get(f"max_{name}"), f"max_{name}"))
        for name in FEATURES
        if f"min_{name}" in params or f"max_{name}" in params
    }  # fmt: skip
    render = caller.render

    def features(track: Any) -> dict[str, float]:
        return {**render.audio_features(track), "popularity": track.popularity}

    result = recommend(catalog, seeds, int(raw_limit), bounds, features)
    kinds = {"ARTIST": "artists", "TRACK": "tracks", "GENRE": "genres"}
    # Spotify sends `"href": null` for a genre seed, which the OpenAPI file's `href: string`
    # forbids; leaving the key out is valid and reads as null through `.get("href")`.
    return {
        "seeds": [
            {
                "afterFilteringSize": size,
                "afterRelinkingSize": size,
                **({} if kind == "GENRE" else {"href": f"{render.api}/{kinds[kind]}/{seed_id}"}),
                "id": seed_id,
                "initialPoolSize": size,
                "type": kind,
            }
            for (kind, seed_id), size in result.pool_by_seed.items()
        ],
        "tracks": [render.track(t) for t in result.tracks],
    }
