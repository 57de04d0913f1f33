"""`SnapshotFacts.from_row`: the ingest's shapes read into frozen values, anything malformed
read as absent instead of failing the insight."""

from __future__ import annotations

import dataclasses
import math

import pytest

from backbeat.domain.insights import FeatureStats, MoodShare, SnapshotFacts
from tests.domain.insights.samples import snapshot_row


def test_a_full_snapshot_reads_into_facts(facts: SnapshotFacts) -> None:
    assert (facts.snapshot_id, facts.user_id, facts.time_range) == (
        "snap-1",
        "user-1",
        "short_term",
    )
    assert facts.track_count == 48
    assert len(facts.top_track_ids) == 20
    assert len(facts.top_artist_ids) == 12
    assert facts.genres[:2] == (("indie pop", 14), ("shoegaze", 9))
    assert facts.genre_plays == 31
    assert facts.features["tempo"] == FeatureStats(118.4, 21.0, 78.0, 171.2, 48)
    assert facts.mean("valence") == 0.37
    assert facts.mean("warmth") is None
    assert facts.moods[0] == MoodShare("tense_energetic", 19, 0.4)
    assert facts.plays_by_hour[0] == (8, 3)
    assert facts.hourly_plays == 48
    assert facts.peak_hours() == (9, 10, 22)
    assert (facts.genre_diversity, facts.artist_diversity, facts.mood_diversity) == (
        0.83,
        0.91,
        0.87,
    )


def test_facts_are_frozen(facts: SnapshotFacts) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.track_count = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        facts.features["energy"] = FeatureStats(1.0)  # type: ignore[index]


def test_an_unsaved_row_without_json_reads_as_empty() -> None:
    row = snapshot_row(
        track_count=None,
        top_track_ids=None,
        genres=None,
        audio_features=None,
        mood_patterns=None,
        genre_diversity=None,
    )
    facts = SnapshotFacts.from_row(row)
    assert facts.track_count == 0
    assert facts.top_track_ids == ()
    assert facts.genres == ()
    assert dict(facts.features) == {}
    assert facts.moods == ()
    assert facts.plays_by_hour == ()
    assert facts.peak_hours() == ()
    assert facts.genre_diversity is None


def test_malformed_values_count_as_absent() -> None:
    row = snapshot_row(
        top_artist_ids=["a", 3, None, "b"],
        genres={"rock": 3, "pop": "many", "jazz": True, "": 4, "folk": -1, "metal": 2.0},
        audio_features={
            "energy": {"mean": 0.5},  # mean alone is enough
            "valence": {"std": 0.1},  # no mean: absent
            "tempo": {"mean": math.nan},
            "danceability": "high",
            "liveness": {"mean": 0.2, "std": "wide", "count": -3},
        },
        mood_patterns={
            "quadrants": {"happy": {"count": 3}, "sad": {"count": 1}, "odd": "x"},
            "by_hour": {"9": 4, "25": 7, "noon": 2, "10": -1, "11": None, "12": 2.0},
        },
        genre_diversity=1.4,
        artist_diversity=math.inf,
        mood_diversity=0.0,
    )
    facts = SnapshotFacts.from_row(row)
    assert facts.top_artist_ids == ("a", "b")
    assert facts.genres == (("rock", 3), ("metal", 2))
    assert set(facts.features) == {"energy", "liveness"}
    assert facts.features["energy"] == FeatureStats(0.5)
    assert facts.features["liveness"] == FeatureStats(0.2)
    # Shares computed from the counts when the ingest left them out.
    assert facts.moods == (MoodShare("happy", 3, 0.75), MoodShare("sad", 1, 0.25))
    assert facts.plays_by_hour == ((9, 4), (12, 2))
    assert (facts.genre_diversity, facts.artist_diversity, facts.mood_diversity) == (
        None,
        None,
        0.0,
    )


def test_mood_patterns_without_quadrants_or_hours_are_absent_not_an_error() -> None:
    facts = SnapshotFacts.from_row(snapshot_row(mood_patterns={"quadrants": [1, 2], "by_hour": 3}))
    assert facts.moods == ()
    assert facts.plays_by_hour == ()


def test_long_genre_names_are_clipped() -> None:
    facts = SnapshotFacts.from_row(snapshot_row(genres={"x" * 500: 2}))
    assert len(facts.genres[0][0]) == 60


def test_peak_hours_prefer_the_earlier_hour_on_a_tie() -> None:
    facts = SnapshotFacts("s", "u", "long_term", plays_by_hour=((7, 5), (9, 5), (21, 5), (3, 1)))
    assert facts.peak_hours(2) == (7, 9)
