"""Normalized Shannon entropy and the three diversities, by hand and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbeat.domain.listening import (
    Mood,
    MoodPatterns,
    artist_diversity,
    genre_counts,
    genre_diversity,
    mood_diversity,
    mood_patterns,
    normalized_entropy,
    top_genres,
)
from tests.domain.listening.factories import artist, features, track

counts_lists = st.lists(st.integers(min_value=0, max_value=10_000), max_size=40)


def test_two_equally_likely_categories_are_fully_diverse() -> None:
    assert normalized_entropy([5, 5]) == pytest.approx(1.0)
    assert normalized_entropy([1, 1, 1, 1], categories=4) == pytest.approx(1.0)


def test_everything_in_one_category_is_not_diverse() -> None:
    assert normalized_entropy([7]) == 0.0
    assert normalized_entropy([7, 0, 0]) == 0.0
    assert normalized_entropy([7], categories=4) == 0.0


def test_a_known_three_way_distribution() -> None:
    # p = 1/2, 1/4, 1/4: H = 1.5 bits.
    assert normalized_entropy([2, 1, 1]) == pytest.approx(1.5 * math.log(2) / math.log(3))
    assert normalized_entropy([2, 1, 1]) == pytest.approx(0.946395, abs=1e-6)
    assert normalized_entropy([2, 1, 1], categories=4) == pytest.approx(0.75)  # 1.5 of 2 bits
    assert normalized_entropy([1, 1], categories=4) == pytest.approx(0.5)


def test_too_little_to_measure_is_none() -> None:
    assert normalized_entropy([]) is None
    assert normalized_entropy([1]) is None
    assert normalized_entropy([0, 1, 0], categories=4) is None


def test_impossible_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        normalized_entropy([3, -1])
    with pytest.raises(ValueError, match="could occur"):
        normalized_entropy([1, 1, 1], categories=2)


@given(counts_lists)
def test_always_within_zero_and_one(counts: list[int]) -> None:
    value = normalized_entropy(counts)
    assert value is None or 0.0 <= value <= 1.0
    fixed = normalized_entropy(counts, categories=max(40, len(counts)))
    assert fixed is None or 0.0 <= fixed <= 1.0


@given(st.data(), counts_lists)
def test_order_of_the_categories_does_not_matter(data: st.DataObject, counts: list[int]) -> None:
    shuffled = data.draw(st.permutations(counts))
    assert normalized_entropy(shuffled) == normalized_entropy(counts)
    assert normalized_entropy(shuffled, categories=40) == normalized_entropy(counts, categories=40)


@given(counts_lists, st.integers(min_value=2, max_value=50))
def test_only_proportions_matter(counts: list[int], factor: int) -> None:
    once, scaled = normalized_entropy(counts), normalized_entropy([c * factor for c in counts])
    if once is None:
        assert scaled is None or sum(counts) == 1
    else:
        assert scaled == pytest.approx(once, abs=1e-9)


def test_genres_count_once_per_track_from_all_its_artists() -> None:
    known = {"a": artist("a", ["pop", "rock"]), "b": artist("b", ["rock", "jazz"])}
    tracks = [track("1", "a", "b"), track("2", "a"), track("3", "unknown")]
    counts = genre_counts(tracks, known)
    assert counts == {"pop": 2, "rock": 2, "jazz": 1}
    assert genre_diversity(counts) == pytest.approx(
        -(2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2)) / math.log(3)
    )


def test_top_genres_rank_by_count_then_name() -> None:
    counts = {f"g{i:02d}": i % 4 + 1 for i in range(14)}
    top = top_genres(counts)
    assert len(top) == 10
    assert list(top)[:4] == ["g03", "g07", "g11", "g02"]
    assert top_genres({"b": 1, "a": 1}, n=1) == {"a": 1}


def test_artist_diversity_is_over_primary_artists() -> None:
    tracks = [track("1", "a", "x"), track("2", "a", "y"), track("3", "b"), track("4", "b")]
    assert artist_diversity(tracks) == pytest.approx(1.0)  # a and b, two tracks each
    assert artist_diversity(tracks[:2]) == 0.0  # featured artists do not count
    assert artist_diversity(tracks[:1]) is None
    assert artist_diversity([track("1"), track("2")]) is None  # no artists to count


def test_mood_diversity_is_over_the_four_quadrants() -> None:
    one_each = [features("1", 0.9, 0.9), features("2", 0.9, 0.1), features("3", 0.1, 0.1)]
    one_each.append(features("4", 0.1, 0.9))
    assert mood_diversity(mood_patterns(one_each)) == pytest.approx(1.0)
    assert mood_diversity(mood_patterns(one_each[:2])) == pytest.approx(0.5)
    assert mood_diversity(mood_patterns(one_each[:1] * 5)) == 0.0


def test_mood_diversity_is_not_genre_entropy() -> None:
    """The replaced app stored genre entropy as "mood diversity": here they disagree when the
    listening does — every genre evenly, every track happy and energetic."""
    known = {"a": artist("a", ["pop"]), "b": artist("b", ["metal"])}
    tracks = [track("1", "a"), track("2", "b")]
    moods = mood_patterns([features("1", 0.9, 0.9), features("2", 0.8, 0.7)])
    assert genre_diversity(genre_counts(tracks, known)) == pytest.approx(1.0)
    assert mood_diversity(moods) == 0.0


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=60))
def test_mood_diversity_within_zero_and_one(points: list[tuple[float, float]]) -> None:
    moods = mood_patterns([features(str(i), v, e) for i, (v, e) in enumerate(points)])
    value = mood_diversity(moods)
    assert value is None or 0.0 <= value <= 1.0
    assert value is None or len(points) >= 2


def test_an_empty_mood_pattern_has_no_diversity() -> None:
    assert mood_diversity(MoodPatterns(dict.fromkeys(Mood, 0))) is None
