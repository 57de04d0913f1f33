"""The recommendations app: seed tracks → ReccoBeats' recommendations, described by Spotify,
and audio features, cached per ReccoBeats' TTLs (ARCHITECTURE §7, seed 004)."""

from backbeat.domain.recommendations.models import (
    Recommendations,
    RecommendedTrack,
    TrackArtist,
    TrackFeatures,
)
from backbeat.domain.recommendations.service import (
    MAX_FEATURES,
    MAX_SIZE,
    RecommendationService,
    UnknownSeeds,
    valid_track_ids,
)

__all__ = [
    "MAX_FEATURES",
    "MAX_SIZE",
    "RecommendationService",
    "Recommendations",
    "RecommendedTrack",
    "TrackArtist",
    "TrackFeatures",
    "UnknownSeeds",
    "valid_track_ids",
]
