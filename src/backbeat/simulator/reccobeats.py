"""ReccoBeats (the free API that replaced Spotify's audio features and recommendations), under
`/reccobeats/v1`. It names tracks and artists by its own UUIDs and accepts Spotify IDs too; ids it
does not know are left out of the answer rather than refused, as the real service does."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from backbeat.simulator.catalog import Artist, Catalog, Track
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.gate import reccobeats_call
from backbeat.simulator.objects import MARKETS, Renderer
from backbeat.simulator.paging import read_ids
from backbeat.simulator.recommend import Seeds, recommend
from backbeat.simulator.search import fold
from backbeat.simulator.state import Simulator

router = APIRouter(prefix="/reccobeats/v1")
JSON = dict[str, Any]
_NAMESPACE = uuid.UUID("6f1f3a52-2b8e-4c59-9d61-0b9e4f3c7a10")


def recco_id(spotify_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, spotify_id))


class ReccoIds:
    """ReccoBeats UUID ↔ Spotify ID for the whole catalog, built once on first use."""

    def __init__(self, catalog: Catalog) -> None:
        self._to_spotify = {recco_id(i): i for i in (*catalog.tracks, *catalog.artists)}

    def spotify(self, any_id: str) -> str:
        return self._to_spotify.get(any_id, any_id)


def _ids(sim: Simulator) -> ReccoIds:
    if not hasattr(sim, "_recco_ids"):
        sim._recco_ids = ReccoIds(sim.catalog)  # type: ignore[attr-defined]
    ids: ReccoIds = sim._recco_ids  # type: ignore[attr-defined]
    return ids


def _artist_json(artist: Artist) -> JSON:
    return {
        "id": recco_id(artist.id),
        "name": artist.name,
        "href": f"https://open.spotify.com/artist/{artist.id}",
    }


def _track_json(catalog: Catalog, track: Track) -> JSON:
    return {
        "id": recco_id(track.id),
        "trackTitle": track.name,
        "artists": [_artist_json(catalog.artists[a]) for a in track.artist_ids],
        "durationMs": track.duration_ms,
        "isrc": track.isrc,
        "ean": None,
        "upc": None,
        "href": f"https://open.spotify.com/track/{track.id}",
        "availableCountries": ",".join(MARKETS),
        "popularity": track.popularity,
    }


def _int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SpotifyError(400, f"{name} must be an integer between {low} and {high}")
    return int(raw)


def _paged(items: list[JSON], page_number: int, size: int, total: int) -> JSON:
    return {
        "content": items,
        "page": page_number,
        "size": size,
        "totalElements": total,
        "totalPages": -(-total // size),
    }


@router.get("/track")
async def tracks(
    request: Request, sim: Annotated[Simulator, Depends(reccobeats_call("track"))]
) -> JSON:
    ids = read_ids(request.query_params.get("ids"), 40)
    known = [sim.catalog.tracks.get(_ids(sim).spotify(i)) for i in ids]
    return {"content": [_track_json(sim.catalog, t) for t in known if t]}


@router.get("/track/recommendation")
async def track_recommendation(
    request: Request, sim: Annotated[Simulator, Depends(reccobeats_call("track_recommendation"))]
) -> JSON:
    params = request.query_params
    raw_seeds = read_ids(params.get("seeds"), 5, name="seeds")
    size = _int(params.get("size"), "size", 10, 1, 100)
    seeds = tuple(
        spotify
        for spotify in (_ids(sim).spotify(s) for s in raw_seeds)
        if spotify in sim.catalog.tracks
    )
    if not seeds:
        return {"content": []}
    render = Renderer(sim.catalog, "")
    result = recommend(
        sim.catalog, Seeds((), seeds, ()), size, {}, lambda t: render.audio_features(t)
    )
    return {"content": [_track_json(sim.catalog, t) for t in result.tracks]}


@router.get("/track/{track_id}/audio-features")
async def track_audio_features(
    track_id: str, sim: Annotated[Simulator, Depends(reccobeats_call("track_audio_features"))]
) -> JSON:
    track = sim.catalog.tracks.get(_ids(sim).spotify(track_id))
    if track is None:
        raise SpotifyError(404, "Track not found")
    features = Renderer(sim.catalog, "").audio_features(track)
    keep = ("acousticness", "danceability", "energy", "instrumentalness", "key", "liveness",
            "loudness", "mode", "speechiness", "tempo", "valence")  # fmt: skip
    return {
        "id": recco_id(track.id),
        "href": f"https://open.spotify.com/track/{track.id}",
        "isrc": track.isrc,
        **{name: features[name] for name in keep},
    }


@router.get("/artist/search")
async def artist_search(
    request: Request, sim: Annotated[Simulator, Depends(reccobeats_call("artist_search"))]
) -> JSON:
    params = request.query_params
    text = fold(params.get("searchText", "")).strip()
    if not text:
        raise SpotifyError(400, "searchText is required")
    page_number = _int(params.get("page"), "page", 0, 0, 10_000)
    size = _int(params.get("size"), "size", 25, 1, 50)
    ids = sim.search.find("artist", text)
    start = page_number * size
    items = [_artist_json(sim.catalog.artists[i]) for i in ids[start : start + size]]
    return _paged(items, page_number, size, len(ids))


@router.get("/artist/{artist_id}/track")
async def artist_tracks(
    artist_id: str,
    request: Request,
    sim: Annotated[Simulator, Depends(reccobeats_call("artist_track"))],
) -> JSON:
    artist = sim.catalog.artists.get(_ids(sim).spotify(artist_id))
    if artist is None:
        raise SpotifyError(404, "Artist not found")
    params = request.query_params
    page_number = _int(params.get("page"), "page", 0, 0, 10_000)
    size = _int(params.get("size"), "size", 25, 1, 50)
    all_tracks = sim.catalog.artist_tracks(artist.id)
    start = page_number * size
    items = [_track_json(sim.catalog, t) for t in all_tracks[start : start + size]]
    return _paged(items, page_number, size, len(all_tracks))
