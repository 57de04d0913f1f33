"""The output schemas: strict (no coercion, no extra keys) and bounded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backbeat.domain.insights import (
    INSIGHT_TYPES,
    OUTPUTS,
    ProductivityInsight,
    RoastInsight,
    WeeklySummary,
    WellnessInsight,
)

WELLNESS: dict[str, Any] = {
    "headline": "Bright and steady",
    "summary": "Your music averages valence 0.62 and energy 0.55 this month.",
    "observations": ["Valence averages 0.62"],
    "suggestions": ["Keep the balance you have"],
    "mood_score": 64,
}


def test_every_type_has_an_output_model() -> None:
    assert (
        tuple(OUTPUTS) == INSIGHT_TYPES == ("wellness", "roast", "productivity", "weekly_summary")
    )


def test_a_valid_wellness_output_round_trips_through_json() -> None:
    output = WellnessInsight.model_validate(WELLNESS)
    assert output.model_dump(mode="json") == WELLNESS
    assert WellnessInsight.model_validate(output.model_dump(mode="json")) == output


def test_strings_are_stripped() -> None:
    output = RoastInsight.model_validate(
        {"headline": "  Of course  ", "roast": "x" * 20, "burns": ["  loyal to a fault "]}
    )
    assert (output.headline, output.burns) == ("Of course", ["loyal to a fault"])


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"mood_score": 101}, "mood_score"),
        ({"mood_score": -1}, "mood_score"),
        ({"mood_score": "64"}, "mood_score"),  # strict: no coercion from text
        ({"mood_score": 64.5}, "mood_score"),
        ({"headline": "ok"}, "headline"),
        ({"headline": "x" * 121}, "headline"),
        ({"summary": "too short"}, "summary"),
        ({"observations": []}, "observations"),
        ({"observations": ["fine", "no"]}, "observations.1"),
        ({"suggestions": ["a suggestion"] * 6}, "suggestions"),
        ({"suggestions": "one long string"}, "suggestions"),
        ({"mood": "bright"}, "mood"),  # no extra keys
    ],
)
def test_wellness_outputs_out_of_bounds_are_refused(change: dict[str, Any], location: str) -> None:
    with pytest.raises(ValidationError) as raised:
        WellnessInsight.model_validate(WELLNESS | change)
    assert location in {".".join(map(str, error["loc"])) for error in raised.value.errors()}


def test_a_missing_field_is_refused() -> None:
    data = dict(WELLNESS)
    del data["mood_score"]
    with pytest.raises(ValidationError, match="mood_score"):
        WellnessInsight.model_validate(data)


def test_focus_hours_are_hours_of_the_day_without_repeats_and_come_back_sorted() -> None:
    base: dict[str, Any] = {
        "headline": "Mornings",
        "summary": "Most plays fall between nine and eleven.",
    }
    base |= {"recommendations": ["Plan deep work at 10:00"]}
    assert ProductivityInsight.model_validate(base | {"focus_hours": [14, 9]}).focus_hours == [
        9,
        14,
    ]
    assert ProductivityInsight.model_validate(base | {"focus_hours": []}).focus_hours == []
    for hours in ([24], [-1], [9, 9], ["9"]):
        with pytest.raises(ValidationError):
            ProductivityInsight.model_validate(base | {"focus_hours": hours})


def test_weekly_summary_needs_a_highlight() -> None:
    with pytest.raises(ValidationError, match="highlights"):
        WeeklySummary(
            headline="Your week", summary="A quiet week, nothing stood out.", highlights=[]
        )


def test_outputs_are_frozen() -> None:
    output = WellnessInsight.model_validate(WELLNESS)
    with pytest.raises(ValidationError):
        output.mood_score = 1  # type: ignore[misc]


@pytest.mark.parametrize("insight_type", INSIGHT_TYPES)
def test_the_json_schema_forbids_extra_keys_and_requires_every_field(insight_type: str) -> None:
    schema = OUTPUTS[insight_type].model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
