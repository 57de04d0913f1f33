"""Listening by hour of day (UTC), from recently played: when a user listens, and to what.

The productivity insight reads it (focus hours, late-night listening). UTC because backbeat
does not know the user's time zone; a consumer that does can rotate the 24 slots.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from backbeat.spotify.models import AudioFeatures, PlayHistory

HOURS = 24


@dataclass(frozen=True, slots=True)
class HourlyListening:
    """Per UTC hour (index 0 to 23): plays, and the mean energy and valence of those plays that
    have features (None for an hour without any)."""

    plays: tuple[int, ...]
    energy: tuple[float | None, ...]
    valence: tuple[float | None, ...]

    @property
    def peak_hour(self) -> int | None:
        """The hour with the most plays (the earliest of a tie); None without plays."""
        if not any(self.plays):
            return None
        return max(range(HOURS), key=lambda hour: self.plays[hour])

    def as_json(self) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "plays": list(self.plays),
            "energy": list(self.energy),
            "valence": list(self.valence),
            "peak_hour": self.peak_hour,
        }


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def listening_by_hour(
    plays: Iterable[PlayHistory], features: Mapping[str, AudioFeatures]
) -> HourlyListening:
    counts = [0] * HOURS
    energy: list[list[float]] = [[] for _ in range(HOURS)]
    valence: list[list[float]] = [[] for _ in range(HOURS)]
    for play in plays:
        at = play.played_at
        # Spotify sends UTC ("…Z"); a naive time can only be meant as UTC too.
        hour = (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).hour
        counts[hour] += 1
        found = features.get(play.track.id)
        if found is not None and math.isfinite(found.energy) and math.isfinite(found.valence):
            energy[hour].append(found.energy)
            valence[hour].append(found.valence)
    return HourlyListening(
        plays=tuple(counts),
        energy=tuple(_mean(values) for values in energy),
        valence=tuple(_mean(values) for values in valence),
    )
