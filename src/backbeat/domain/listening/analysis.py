"""A snapshot's numbers from what was fetched. Pure (no I/O), so a job, a replay and a test
compute the same thing from the same answers.

The snapshot covers the user's top tracks for its time range: feature statistics, moods,
genres and diversity come from them. Recently played (not tied to a time range) gives the
hour-of-day pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backbeat.domain.listening.diversity import (
    artist_diversity,
    genre_counts,
    genre_diversity,
    mood_diversity,
    top_genres,
)
from backbeat.domain.listening.features import FeatureStats, feature_stats
from backbeat.domain.listening.hours import HourlyListening, listening_by_hour
from backbeat.domain.listening.moods import MoodPatterns, mood_patterns
from backbeat.spotify.models import Artist, AudioFeatures, PlayHistory, Track


@dataclass(frozen=True, slots=True)
class ListeningAnalysis:
    top_track_ids: tuple[str, ...]
    top_artist_ids: tuple[str, ...]
    genre_counts: Mapping[str, int]
    audio_features: Mapping[str, FeatureStats | None]
    moods: MoodPatterns
    hourly: HourlyListening
    genre_diversity: float | None
    artist_diversity: float | None
    mood_diversity: float | None

    @property
    def track_count(self) -> int:
        return len(self.top_track_ids)

    @property
    def top_genres(self) -> dict[str, int]:
        return top_genres(self.genre_counts)

    def columns(self) -> dict[str, Any]:
        """The `listening_snapshots` columns this fills, JSON-ready. `genres` holds every genre
        (not only the top ten) so the genre diversity can be recomputed and read in context;
        JSONB keeps no key order, so readers rank with `top_genres`."""
        return {
            "track_count": self.track_count,
            "top_track_ids": list(self.top_track_ids),
            "top_artist_ids": list(self.top_artist_ids),
            "genres": dict(self.genre_counts),
            "audio_features": {
                name: None if stats is None else stats.as_json()
                for name, stats in self.audio_features.items()
            },
            "mood_patterns": self.moods.as_json() | {"by_hour": self.hourly.as_json()},
            "genre_diversity": self.genre_diversity,
            "artist_diversity": self.artist_diversity,
            "mood_diversity": self.mood_diversity,
        }


def distinct_tracks(tracks: Iterable[Track]) -> list[Track]:
    """Each track once, in the order of its first occurrence."""
    return list({track.id: track for track in tracks}.values())


def missing_artist_ids(tracks: Iterable[Track], known: Iterable[str]) -> list[str]:
    """Ids of the tracks' artists (all of them, not only the primary one) outside `known`:
    the artists whose genres still have to be fetched."""
    have = set(known)
    wanted = (ref.id for track in tracks for ref in track.artists if ref.id not in have)
    return list(dict.fromkeys(wanted))


def analyze(
    *,
    top_tracks: Sequence[Track],
    top_artists: Sequence[Artist],
    recently_played: Sequence[PlayHistory],
    features: Mapping[str, AudioFeatures],
    artists: Mapping[str, Artist] | None = None,
) -> ListeningAnalysis:
    """`features` by track id (tracks without features are absent); `artists` by id, the track
    artists beyond `top_artists` (whose genres are used as they come)."""
    tracks = distinct_tracks(top_tracks)
    known = {artist.id: artist for artist in top_artists} | dict(artists or {})
    track_features = [features.get(track.id) for track in tracks]
    moods = mood_patterns(track_features)
    genres = genre_counts(tracks, known)
    return ListeningAnalysis(
        top_track_ids=tuple(track.id for track in tracks),
        top_artist_ids=tuple(dict.fromkeys(artist.id for artist in top_artists)),
        genre_counts=genres,
        audio_features=feature_stats(track_features),
        moods=moods,
        hourly=listening_by_hour(recently_played, features),
        genre_diversity=genre_diversity(genres),
        artist_diversity=artist_diversity(tracks),
        mood_diversity=mood_diversity(moods),
    )
