"""Spotify models for the listening tests, built from the few fields each test cares about."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backbeat.spotify.models import AlbumRef, Artist, ArtistRef, AudioFeatures, PlayHistory, Track


def track(track_id: str, *artist_ids: str) -> Track:
    return Track(
        id=track_id,
        name=f"Track {track_id}",
        artists=[ArtistRef(id=a, name=f"Artist {a}") for a in artist_ids],
        album=AlbumRef(id=f"album-{track_id}", name="Album"),
    )


def artist(artist_id: str, genres: Sequence[str] = ()) -> Artist:
    return Artist(id=artist_id, name=f"Artist {artist_id}", genres=list(genres))


def features(
    track_id: str, valence: float = 0.5, energy: float = 0.5, **rest: float
) -> AudioFeatures:
    values: dict[str, float] = {
        "danceability": 0.5,
        "key": 0,
        "loudness": -8.0,
        "mode": 1,
        "speechiness": 0.05,
        "acousticness": 0.2,
        "instrumentalness": 0.0,
        "liveness": 0.1,
        "tempo": 120.0,
    }
    return AudioFeatures.model_validate(
        {**values, **rest, "id": track_id, "valence": valence, "energy": energy}
    )


def play(track_id: str, at: datetime) -> PlayHistory:
    return PlayHistory(played_at=at, track=track(track_id, "a"))
