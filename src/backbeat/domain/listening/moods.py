"""Mood quadrants: each track placed by valence (sad ↔ happy) and energy (calm ↔ intense).

The four quadrants of Russell's circumplex model, as the listening-insights app used them. A
value at the threshold counts as high, so every track falls in exactly one quadrant.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backbeat.spotify.models import AudioFeatures

THRESHOLD = 0.5


class Mood(StrEnum):
    HAPPY_ENERGETIC = "happy/energetic"  # high valence, high energy
    CALM_CONTENT = "calm/content"  # high valence, low energy
    SAD_LOW = "sad/low"  # low valence, low energy
    TENSE_ANGRY = "tense/angry"  # low valence, high energy


def classify(valence: float, energy: float, threshold: float = THRESHOLD) -> Mood:
    if valence >= threshold:
        return Mood.HAPPY_ENERGETIC if energy >= threshold else Mood.CALM_CONTENT
    return Mood.TENSE_ANGRY if energy >= threshold else Mood.SAD_LOW


@dataclass(frozen=True, slots=True)
class MoodPatterns:
    """How many tracks fell in each quadrant (every quadrant present, zeros included)."""

    counts: Mapping[Mood, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def shares(self) -> dict[Mood, float]:
        """Each quadrant's share of the classified tracks; all zero when none were."""
        total = self.total
        return {mood: (n / total if total else 0.0) for mood, n in self.counts.items()}

    @property
    def dominant(self) -> Mood | None:
        """The most frequent quadrant (ties go to the first in `Mood` order)."""
        if not self.total:
            return None
        return max(Mood, key=lambda mood: self.counts[mood])

    def as_json(self) -> dict[str, Any]:
        return {
            "threshold": THRESHOLD,
            "classified": self.total,
            "counts": {str(mood): n for mood, n in self.counts.items()},
            "shares": {str(mood): share for mood, share in self.shares.items()},
            "dominant": None if self.dominant is None else str(self.dominant),
        }


def mood_patterns(features: Iterable[AudioFeatures | None]) -> MoodPatterns:
    """Tracks per quadrant; tracks without features (None, or non-finite values) are skipped."""
    counts = Counter(
        classify(f.valence, f.energy)
        for f in features
        if f is not None and math.isfinite(f.valence) and math.isfinite(f.energy)
    )
    return MoodPatterns({mood: counts[mood] for mood in Mood})
