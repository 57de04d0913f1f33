"""Feature statistics, mood quadrants and listening by hour, by hand and by property."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbeat.domain.listening import (
    FEATURES,
    Mood,
    classify,
    describe,
    feature_stats,
    listening_by_hour,
    mood_patterns,
)
from tests.domain.listening.factories import features, play


def test_statistics_per_feature_skip_missing_tracks() -> None:
    found = [features("1", energy=0.2), None, features("2", energy=0.4), features("3", energy=0.9)]
    stats = feature_stats(found)
    assert set(stats) == set(FEATURES)
    energy = stats["energy"]
    assert energy is not None
    assert energy.count == 3
    assert energy.mean == pytest.approx(0.5)
    assert energy.std == pytest.approx(math.sqrt((0.09 + 0.01 + 0.16) / 3))  # population
    assert (energy.min, energy.max) == (0.2, 0.9)
    tempo = stats["tempo"]
    assert tempo is not None
    assert (tempo.mean, tempo.std, tempo.count) == (120.0, 0.0, 3)


def test_no_tracks_with_features_gives_no_statistics() -> None:
    assert feature_stats([None, None]) == dict.fromkeys(FEATURES)
    assert describe([math.nan]) is None


@given(st.lists(st.floats(-60, 250) | st.just(math.nan), max_size=50))
def test_statistics_stay_within_what_was_observed(values: list[float]) -> None:
    stats = describe(values)
    finite = [v for v in values if not math.isnan(v)]
    if stats is None:
        assert not finite
        return
    assert stats.count == len(finite)
    assert stats.min <= stats.mean <= stats.max
    assert stats.std >= 0.0


@pytest.mark.parametrize(
    ("valence", "energy", "mood"),
    [
        (0.9, 0.8, Mood.HAPPY_ENERGETIC),
        (0.7, 0.2, Mood.CALM_CONTENT),
        (0.1, 0.3, Mood.SAD_LOW),
        (0.2, 0.95, Mood.TENSE_ANGRY),
        (0.5, 0.5, Mood.HAPPY_ENERGETIC),  # the threshold counts as high
        (0.4999, 0.5, Mood.TENSE_ANGRY),
    ],
)
def test_quadrants(valence: float, energy: float, mood: Mood) -> None:
    assert classify(valence, energy) == mood


def test_mood_counts_and_shares() -> None:
    moods = mood_patterns(
        [features("1", 0.9, 0.9), features("2", 0.8, 0.6), features("3", 0.1, 0.1), None]
    )
    assert moods.counts == {
        Mood.HAPPY_ENERGETIC: 2,
        Mood.CALM_CONTENT: 0,
        Mood.SAD_LOW: 1,
        Mood.TENSE_ANGRY: 0,
    }
    assert moods.shares[Mood.HAPPY_ENERGETIC] == pytest.approx(2 / 3)
    assert sum(moods.shares.values()) == pytest.approx(1.0)
    assert moods.dominant == Mood.HAPPY_ENERGETIC
    assert moods.as_json()["counts"] == {
        "happy/energetic": 2,
        "calm/content": 0,
        "sad/low": 1,
        "tense/angry": 0,
    }
    empty = mood_patterns([])
    assert (empty.total, empty.dominant, sum(empty.shares.values())) == (0, None, 0.0)


def test_listening_by_hour_in_utc() -> None:
    nine = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
    plays = [
        play("1", nine),
        play("2", nine + timedelta(minutes=35)),
        play("3", datetime(2026, 11, 2, 23, 0, tzinfo=timezone(timedelta(hours=2)))),  # 21 UTC
    ]
    by_id = {"1": features("1", valence=0.2, energy=0.8), "2": features("2", 0.6, 0.4)}
    hourly = listening_by_hour(plays, by_id)
    assert hourly.plays[9] == 2
    assert hourly.plays[21] == 1
    assert sum(hourly.plays) == 3
    assert hourly.energy[9] == pytest.approx(0.6)
    assert hourly.valence[9] == pytest.approx(0.4)
    assert hourly.energy[21] is None  # played, but no features
    assert hourly.peak_hour == 9
    assert listening_by_hour([], {}).peak_hour is None
    assert len(hourly.as_json()["plays"]) == 24
