"""The structured output of each insight type: what a provider must return, what the prompt
shows as a JSON schema, and what is stored (`model_dump(mode="json")`).

Validation is strict (no type coercion, no extra keys, bounded lengths): a reply that does not
fit is sent back to the model once with the errors, never stored half-right.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Headline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=120)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=20, max_length=2000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
Hour = Annotated[int, Field(ge=0, le=23)]


class InsightOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    headline: Headline = Field(description="a short title, at most 120 characters")


class WellnessInsight(InsightOutput):
    summary: Prose = Field(description="two to four sentences on what the listening suggests")
    observations: list[Line] = Field(
        min_length=1, max_length=6, description="facts read from the numbers, one per item"
    )
    suggestions: list[Line] = Field(min_length=1, max_length=5)
    mood_score: int = Field(ge=0, le=100, description="0 = heavy and low, 100 = bright and high")


class RoastInsight(InsightOutput):
    roast: Prose = Field(description="the roast itself, a short paragraph")
    burns: list[Line] = Field(min_length=1, max_length=6, description="one-liners")


class ProductivityInsight(InsightOutput):
    summary: Prose
    focus_hours: list[Hour] = Field(
        max_length=24,
        description="hours of the day (0–23) that suit focused work; empty when unknown",
    )
    recommendations: list[Line] = Field(min_length=1, max_length=5)

    @field_validator("focus_hours")
    @classmethod
    def _distinct_in_order(cls, hours: list[int]) -> list[int]:
        if len(set(hours)) != len(hours):
            raise ValueError("hours must not repeat")
        return sorted(hours)


class WeeklySummary(InsightOutput):
    summary: Prose
    highlights: list[Line] = Field(min_length=1, max_length=6)


INSIGHT_TYPES = ("wellness", "roast", "productivity", "weekly_summary")

OUTPUTS: Mapping[str, type[InsightOutput]] = MappingProxyType(
    {
        "wellness": WellnessInsight,
        "roast": RoastInsight,
        "productivity": ProductivityInsight,
        "weekly_summary": WeeklySummary,
    }
)
