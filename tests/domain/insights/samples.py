"""A listening snapshot with every section filled, as the ingest writes it."""

from __future__ import annotations

from datetime import date
from typing import Any

from backbeat.db.models import ListeningSnapshot


def _stats(mean: float, std: float, low: float, high: float) -> dict[str, float]:
    return {"mean": mean, "std": std, "min": low, "max": high, "count": 48}


def snapshot_columns() -> dict[str, Any]:
    return {
        "snapshot_date": date(2026, 11, 29),
        "time_range": "short_term",
        "track_count": 48,
        "top_track_ids": [f"track{i}" for i in range(20)],
        "top_artist_ids": [f"artist{i}" for i in range(12)],
        "genres": {"indie pop": 14, "shoegaze": 9, "dream pop": 6, "jazz": 2},
        "audio_features": {
            "energy": _stats(0.63, 0.14, 0.21, 0.94),
            "valence": _stats(0.37, 0.18, 0.05, 0.81),
            "danceability": _stats(0.56, 0.11, 0.3, 0.82),
            "tempo": _stats(118.4, 21.0, 78.0, 171.2),
            "acousticness": _stats(0.28, 0.2, 0.01, 0.77),
            "instrumentalness": _stats(0.17, 0.2, 0.0, 0.88),
            "speechiness": _stats(0.06, 0.03, 0.03, 0.21),
            "liveness": _stats(0.15, 0.1, 0.05, 0.6),
            "loudness": _stats(-7.4, 2.1, -14.3, -3.2),
        },
        "features_source": "reccobeats",
        "mood_patterns": {
            "quadrants": {
                "tense_energetic": {"count": 19, "share": 0.4},
                "happy_energetic": {"count": 12, "share": 0.25},
                "sad_calm": {"count": 11, "share": 0.23},
                "calm_content": {"count": 6, "share": 0.12},
            },
            "by_hour": {"8": 3, "9": 11, "10": 14, "14": 7, "22": 9, "23": 4},
        },
        "genre_diversity": 0.83,
        "artist_diversity": 0.91,
        "mood_diversity": 0.87,
    }


def snapshot_row(**overrides: Any) -> ListeningSnapshot:
    columns = {"id": "snap-1", "user_id": "user-1"} | snapshot_columns() | overrides
    return ListeningSnapshot(**columns)
