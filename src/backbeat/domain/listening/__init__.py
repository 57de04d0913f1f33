"""The listening domain: a user's top tracks, top artists and recently played, ingested into a
daily snapshot of audio-feature statistics, mood patterns and diversity (ARCHITECTURE §7)."""

from backbeat.domain.listening.analysis import (
    ListeningAnalysis,
    analyze,
    distinct_tracks,
    missing_artist_ids,
)
from backbeat.domain.listening.diversity import (
    artist_counts,
    artist_diversity,
    genre_counts,
    genre_diversity,
    mood_diversity,
    normalized_entropy,
    top_genres,
)
from backbeat.domain.listening.features import FEATURES, FeatureStats, describe, feature_stats
from backbeat.domain.listening.hours import HourlyListening, listening_by_hour
from backbeat.domain.listening.ingest import FeaturesSource, ingest_snapshot
from backbeat.domain.listening.moods import THRESHOLD, Mood, MoodPatterns, classify, mood_patterns
from backbeat.domain.listening.snapshots import get_snapshot, list_snapshots

__all__ = [
    "FEATURES",
    "THRESHOLD",
    "FeatureStats",
    "FeaturesSource",
    "HourlyListening",
    "ListeningAnalysis",
    "Mood",
    "MoodPatterns",
    "analyze",
    "artist_counts",
    "artist_diversity",
    "classify",
    "describe",
    "distinct_tracks",
    "feature_stats",
    "genre_counts",
    "genre_diversity",
    "get_snapshot",
    "ingest_snapshot",
    "list_snapshots",
    "listening_by_hour",
    "missing_artist_ids",
    "mood_diversity",
    "mood_patterns",
    "normalized_entropy",
    "top_genres",
]
