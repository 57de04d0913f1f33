"""The offline provider: deterministic, built from the snapshot's numbers, always valid."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbeat.domain.insights import (
    OUTPUTS,
    TONES,
    FeatureStats,
    InvalidInsightRequest,
    MoodShare,
    OfflineProvider,
    ProductivityInsight,
    RoastInsight,
    SnapshotFacts,
    WeeklySummary,
    WellnessInsight,
)
from backbeat.domain.insights.offline import WRITERS, mood_score
from backbeat.domain.listening.features import FEATURES

REQUESTS = [(kind, tone) for kind, tones in TONES.items() for tone in tones]


def _text(output: object) -> str:
    assert hasattr(output, "model_dump_json")
    return str(output.model_dump_json())


def _with_valence(facts: SnapshotFacts, mean: float) -> SnapshotFacts:
    features = dict(facts.features) | {"valence": FeatureStats(mean, 0.1, 0.0, 1.0, 48)}
    return dataclasses.replace(facts, features=MappingProxyType(features))


@pytest.mark.parametrize(("insight_type", "tone"), REQUESTS)
async def test_the_same_snapshot_gives_the_same_output(
    insight_type: str, tone: str, facts: SnapshotFacts
) -> None:
    provider = OfflineProvider()
    first = await provider.generate(insight_type, tone, facts)
    second = await provider.generate(insight_type, tone, dataclasses.replace(facts))
    assert first == second
    assert first.model == "offline-v1"
    assert isinstance(first.output, OUTPUTS[insight_type])


@pytest.mark.parametrize(("insight_type", "tone"), REQUESTS)
async def test_different_numbers_give_different_text(
    insight_type: str, tone: str, facts: SnapshotFacts
) -> None:
    provider = OfflineProvider()
    before = await provider.generate(insight_type, tone, facts)
    changed = dataclasses.replace(
        _with_valence(facts, 0.71),
        track_count=31,
        genres=(("math rock", 12), *facts.genres[1:]),
        plays_by_hour=((6, 12), (7, 2), (19, 5)),
    )
    after = await provider.generate(insight_type, tone, changed)
    assert _text(before.output) != _text(after.output)


async def test_wellness_quotes_the_numbers(facts: SnapshotFacts) -> None:
    output = (await OfflineProvider().generate("wellness", "neutral", facts)).output
    assert isinstance(output, WellnessInsight)
    assert output.mood_score == mood_score(0.37, 0.63) == 45
    assert "valence 0.37 and energy 0.63" in output.summary
    assert "48 tracks" in output.summary
    assert "45/100" in output.headline
    assert "Tempo averages 118 BPM, from 78 BPM to 171 BPM" in output.observations
    assert "40% of plays fall in the tense energetic quadrant" in output.observations
    # Valence below 0.4: the suggestion names it.
    assert any("0.37" in suggestion for suggestion in output.suggestions)


async def test_the_tone_changes_the_wording(facts: SnapshotFacts) -> None:
    provider = OfflineProvider()
    supportive = (await provider.generate("wellness", "supportive", facts)).output
    direct = (await provider.generate("wellness", "direct", facts)).output
    assert isinstance(supportive, WellnessInsight)
    assert isinstance(direct, WellnessInsight)
    assert supportive.headline != direct.headline
    assert supportive.suggestions[0].startswith("If it feels right, ")
    assert supportive.mood_score == direct.mood_score  # the numbers do not depend on the tone
    gentle = (await provider.generate("roast", "gentle", facts)).output
    savage = (await provider.generate("roast", "savage", facts)).output
    assert isinstance(gentle, RoastInsight)
    assert isinstance(savage, RoastInsight)
    assert gentle.roast != savage.roast
    assert "Indie pop takes 45% of your genres (14 of 31)" in savage.roast
    assert "Artist diversity 0.91: commitment issues, in playlist form" in savage.burns


async def test_productivity_focus_hours_are_the_busiest_hours(facts: SnapshotFacts) -> None:
    output = (await OfflineProvider().generate("productivity", "neutral", facts)).output
    assert isinstance(output, ProductivityInsight)
    assert output.focus_hours == [9, 10, 22]
    assert output.headline == "Most listening at 09:00, 10:00, 22:00"
    assert "Plan demanding work around 10:00, when you listen most (14 plays)" in (
        output.recommendations
    )
    assert "Instrumentalness averages 0.17" in output.summary


async def test_weekly_summary_highlights(facts: SnapshotFacts) -> None:
    output = (await OfflineProvider().generate("weekly_summary", "neutral", facts)).output
    assert isinstance(output, WeeklySummary)
    assert output.headline == "Your week: 48 tracks, led by indie pop"
    assert "Top genres: indie pop (14), shoegaze (9), dream pop (6)" in output.highlights
    assert "Busiest hour: 10:00 with 14 plays" in output.highlights


@pytest.mark.parametrize(("insight_type", "tone"), REQUESTS)
async def test_an_empty_snapshot_still_gives_a_valid_output(insight_type: str, tone: str) -> None:
    output = await OfflineProvider().generate(insight_type, tone, SnapshotFacts("s", "u", "x"))
    assert isinstance(output.output, OUTPUTS[insight_type])


async def test_an_unknown_type_or_tone_is_refused(facts: SnapshotFacts) -> None:
    with pytest.raises(InvalidInsightRequest):
        await OfflineProvider().generate("horoscope", "neutral", facts)
    with pytest.raises(InvalidInsightRequest):
        await OfflineProvider().generate("roast", "supportive", facts)


def test_mood_score_is_bounded() -> None:
    assert mood_score(None, None) == 50
    assert mood_score(0.8, None) == 80
    assert mood_score(None, 0.2) == 20
    assert mood_score(3.0, 2.0) == 100
    assert mood_score(-1.0, 0.0) == 0


unit = st.floats(min_value=0.0, max_value=1.0)
feature_stats = st.builds(
    FeatureStats,
    mean=st.floats(min_value=-60.0, max_value=250.0),
    std=st.none() | unit,
    min=st.none() | st.floats(min_value=-60.0, max_value=250.0),
    max=st.none() | st.floats(min_value=-60.0, max_value=250.0),
    count=st.none() | st.integers(min_value=0, max_value=10_000),
)
names = st.text(min_size=1, max_size=60)
snapshots = st.builds(
    SnapshotFacts,
    snapshot_id=st.just("s"),
    user_id=st.just("u"),
    time_range=st.sampled_from(["short_term", "medium_term", "long_term"]),
    track_count=st.integers(min_value=0, max_value=10_000),
    top_artist_ids=st.lists(st.just("a"), max_size=50).map(tuple),
    genres=st.lists(st.tuples(names, st.integers(min_value=1, max_value=1000)), max_size=8).map(
        lambda pairs: tuple(sorted(pairs, key=lambda pair: -pair[1]))
    ),
    features=st.dictionaries(st.sampled_from(FEATURES), feature_stats).map(MappingProxyType),
    moods=st.lists(st.builds(MoodShare, names, st.integers(0, 1000), unit), max_size=4).map(tuple),
    plays_by_hour=st.dictionaries(st.integers(0, 23), st.integers(1, 500)).map(
        lambda hours: tuple(sorted(hours.items()))
    ),
    genre_diversity=st.none() | unit,
    artist_diversity=st.none() | unit,
    mood_diversity=st.none() | unit,
)


@settings(max_examples=200, deadline=None)
@given(facts=snapshots, request=st.sampled_from(REQUESTS))
def test_any_snapshot_gives_a_valid_output(facts: SnapshotFacts, request: tuple[str, str]) -> None:
    insight_type, tone = request
    output = WRITERS[insight_type](facts, tone)  # validated on construction
    assert OUTPUTS[insight_type].model_validate(output.model_dump(mode="json")) == output
