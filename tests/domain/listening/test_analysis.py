"""`analyze`: what was fetched becomes a snapshot's columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backbeat.domain.listening import analyze, distinct_tracks, missing_artist_ids
from tests.domain.listening.factories import artist, features, play, track

NOON = datetime(2026, 11, 2, 12, 30, tzinfo=UTC)


def test_columns_of_a_small_listening_history() -> None:
    tracks = [track("1", "a"), track("2", "a", "c"), track("3", "b"), track("1", "a")]
    analysis = analyze(
        top_tracks=tracks,
        top_artists=[artist("a", ["pop"])],
        recently_played=[play("1", NOON), play("9", NOON)],
        features={
            "1": features("1", valence=0.9, energy=0.9),
            "2": features("2", valence=0.2, energy=0.1),
        },
        artists={"b": artist("b", ["jazz"]), "c": artist("c", ["pop", "funk"])},
    )
    columns = analysis.columns()
    json.dumps(columns)  # JSON columns take it as it is
    assert columns["track_count"] == 3  # the repeated track counts once
    assert columns["top_track_ids"] == ["1", "2", "3"]
    assert columns["top_artist_ids"] == ["a"]
    assert columns["genres"] == {"pop": 2, "jazz": 1, "funk": 1}
    assert analysis.top_genres == {"pop": 2, "funk": 1, "jazz": 1}
    assert columns["audio_features"]["valence"]["count"] == 2  # track 3 has no features
    assert columns["audio_features"]["valence"]["mean"] == pytest.approx(0.55)
    moods = columns["mood_patterns"]
    assert moods["counts"] == {"happy/energetic": 1, "calm/content": 0, "sad/low": 1,
                               "tense/angry": 0}  # fmt: skip
    assert sum(moods["shares"].values()) == pytest.approx(1.0)
    assert moods["by_hour"]["plays"][12] == 2
    assert moods["by_hour"]["energy"][12] == pytest.approx(0.9)  # track 9 has no features
    assert columns["mood_diversity"] == pytest.approx(0.5)  # two of four quadrants, evenly
    assert columns["artist_diversity"] == pytest.approx(0.918296, abs=1e-6)  # a, a, b
    assert columns["genre_diversity"] == pytest.approx(0.946395, abs=1e-6)  # 2:1:1


def test_nothing_listened_gives_empty_numbers() -> None:
    columns = analyze(top_tracks=[], top_artists=[], recently_played=[], features={}).columns()
    assert columns["track_count"] == 0
    assert columns["genres"] == {}
    assert set(columns["audio_features"].values()) == {None}
    assert columns["mood_patterns"]["classified"] == 0
    assert columns["mood_patterns"]["dominant"] is None
    assert (columns["genre_diversity"], columns["artist_diversity"]) == (None, None)
    assert columns["mood_diversity"] is None


def test_what_still_has_to_be_fetched() -> None:
    tracks = [track("1", "a", "b"), track("2", "c"), track("1", "a", "b")]
    assert [t.id for t in distinct_tracks(tracks)] == ["1", "2"]
    assert missing_artist_ids(tracks, ["a"]) == ["b", "c"]
