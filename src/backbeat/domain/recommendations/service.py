"""Seeds → ReccoBeats recommendations, described by Spotify; audio features by the batch.

Every call goes through the upstream layer, which applies ReccoBeats' per-endpoint limits and
minimum intervals, its cache TTLs (recommendations an hour, tracks two, features a day) and the
ID registry (ids ReccoBeats lacks are not asked again for a week) — seed 004's measures, shared
by every process. A repeated request is therefore answered from the cache without a call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from backbeat.domain.recommendations.models import (
    Recommendations,
    TrackFeatures,
    recommended,
)
from backbeat.errors import InvalidRequest
from backbeat.reccobeats.client import MAX_SEEDS, MAX_TRACK_IDS, ReccoBeatsClient
from backbeat.reccobeats.models import ReccoTrack
from backbeat.spotify.client import SpotifyClient

MAX_SIZE = 100  # ReccoBeats' largest `size`
MAX_FEATURES = MAX_TRACK_IDS  # ReccoBeats' batch: its features fallback is one call per track
_SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")


class UnknownSeeds(InvalidRequest):
    """Seeds ReccoBeats has no track for: it would silently leave them out of the answer."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__("seed_track_ids", f"ReccoBeats knows no track {', '.join(ids)}")
        self.ids = list(ids)


def valid_track_ids(field: str, ids: Sequence[str], most: int) -> list[str]:
    """1 to `most` well-formed Spotify track ids, deduplicated in order, or InvalidRequest."""
    if isinstance(ids, str):  # a lone id would be read as 22 one-letter ids
        ids = [ids]
    wanted = list(dict.fromkeys(i.strip() for i in ids))
    if not wanted:
        raise InvalidRequest(field, f"give 1 to {most} Spotify track ids")
    if len(wanted) > most:
        raise InvalidRequest(field, f"at most {most} track ids, got {len(wanted)}")
    malformed = [i for i in wanted if not _SPOTIFY_ID.fullmatch(i)]
    if malformed:
        raise InvalidRequest(field, f"not Spotify track ids: {', '.join(malformed)}")
    return wanted


class RecommendationService:
    def __init__(self, spotify: SpotifyClient, reccobeats: ReccoBeatsClient) -> None:
        self.spotify = spotify
        self.reccobeats = reccobeats

    async def recommend(
        self, seed_track_ids: Sequence[str], size: int = 20, *, features: bool = False
    ) -> Recommendations:
        """Up to `size` tracks like the 1–5 seeds (Spotify track ids), seeds left out, with
        Spotify's name, artists, album, cover and popularity; `features` adds audio features
        (then at most MAX_FEATURES tracks)."""
        seeds = valid_track_ids("seed_track_ids", seed_track_ids, MAX_SEEDS)
        most = MAX_FEATURES if features else MAX_SIZE
        if not 1 <= size <= most:
            raise InvalidRequest("size", f"between 1 and {most}")
        known = await self.reccobeats.tracks(seeds)
        unknown = [seed for seed, track in zip(seeds, known, strict=True) if track is None]
        if unknown:
            raise UnknownSeeds(unknown)
        found = await self.reccobeats.recommendation(seeds, size)
        picks: dict[str, ReccoTrack] = {}
        for pick in found:  # ReccoBeats' order; each track once, never a seed
            if pick.spotify_id not in seeds:
                picks.setdefault(pick.spotify_id, pick)
        ordered = list(picks.values())
        tracks = await self.spotify.tracks([pick.spotify_id for pick in ordered])
        items = [recommended(p, t) for p, t in zip(ordered, tracks, strict=True)]
        if features and items:
            described = await self.spotify.audio_features([item.id for item in items])
            items = [
                item.model_copy(update={"features": about})
                for item, about in zip(items, described, strict=True)
            ]
        return Recommendations(seeds=seeds, tracks=items)

    async def audio_features(self, track_ids: Sequence[str]) -> TrackFeatures:
        """Features of 1–MAX_FEATURES Spotify tracks: from Spotify where the app may still read
        them, else from ReccoBeats (the client's fallback)."""
        ids = valid_track_ids("track_ids", track_ids, MAX_FEATURES)
        found = await self.spotify.audio_features(ids)
        return TrackFeatures(
            features=[f for f in found if f is not None],
            missing=[i for i, f in zip(ids, found, strict=True) if f is None],
        )
