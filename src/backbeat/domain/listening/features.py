"""Audio-feature statistics: how a user's tracks spread over each feature.

Statistics describe the whole set of tracks the snapshot covers (a user's top tracks), not a
sample of a larger population, so the spread is the population standard deviation.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from backbeat.spotify.models import AudioFeatures

FEATURES = (
    "energy",
    "valence",
    "danceability",
    "tempo",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
    "loudness",
)


@dataclass(frozen=True, slots=True)
class FeatureStats:
    mean: float
    std: float
    min: float
    max: float
    count: int

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


def describe(values: Iterable[float]) -> FeatureStats | None:
    """Mean, population std, min, max and count of the finite values; None when there are none."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    # fmean rounds once more than the data: keep the mean inside what was observed.
    mean = min(high, max(low, statistics.fmean(finite)))
    return FeatureStats(
        mean=mean,
        std=statistics.pstdev(finite, mu=mean),
        min=low,
        max=high,
        count=len(finite),
    )


def feature_stats(
    features: Iterable[AudioFeatures | None], names: Sequence[str] = FEATURES
) -> dict[str, FeatureStats | None]:
    """Per feature name, the statistics over the tracks that have features (None entries are
    tracks neither Spotify nor ReccoBeats could describe; they are skipped, not zeros)."""
    present = [f for f in features if f is not None]
    return {name: describe(float(getattr(f, name)) for f in present) for name in names}
