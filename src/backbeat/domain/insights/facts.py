"""What an insight is written from: a listening snapshot's numbers as frozen values.

Providers get `SnapshotFacts`, never ORM rows. The JSON columns are read defensively: the ingest
owns their shapes, so a missing key, a non-number or an out-of-range value counts as absent
rather than failing the insight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from backbeat.db.models import ListeningSnapshot

# Names come from upstream data; clipped so a freak one cannot overflow a headline.
NAME_LIMIT = 60

# What Spotify's time ranges cover, in words for prompts and text.
SPANS = {
    "short_term": "about the last four weeks",
    "medium_term": "about the last six months",
    "long_term": "about the last year",
}


@dataclass(frozen=True, slots=True)
class FeatureStats:
    """One audio feature over the snapshot's tracks: 0 to 1, but tempo in BPM, loudness in dB."""

    mean: float
    std: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class MoodShare:
    quadrant: str  # as the ingest names it, e.g. "happy_energetic"
    count: int
    share: float  # of all plays, 0–1


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    snapshot_id: str
    user_id: str
    time_range: str
    snapshot_date: date | None = None
    track_count: int = 0
    top_track_ids: tuple[str, ...] = ()
    top_artist_ids: tuple[str, ...] = ()
    genres: tuple[tuple[str, int], ...] = ()  # (genre, count), most played first
    features: Mapping[str, FeatureStats] = field(default_factory=lambda: MappingProxyType({}))
    moods: tuple[MoodShare, ...] = ()  # largest share first
    plays_by_hour: tuple[tuple[int, int], ...] = ()  # (hour 0–23, plays), hours with plays
    genre_diversity: float | None = None  # normalized Shannon entropies, 0–1
    artist_diversity: float | None = None
    mood_diversity: float | None = None

    @classmethod
    def from_row(cls, row: ListeningSnapshot) -> SnapshotFacts:
        moods = _dict(row.mood_patterns)
        return cls(
            snapshot_id=row.id,
            user_id=row.user_id,
            time_range=row.time_range,
            snapshot_date=row.snapshot_date,
            track_count=max(0, int(_number(row.track_count) or 0)),
            top_track_ids=_strings(row.top_track_ids),
            top_artist_ids=_strings(row.top_artist_ids),
            genres=_genres(row.genres),
            features=MappingProxyType(_features(row.audio_features)),
            moods=_moods(moods.get("quadrants")),
            plays_by_hour=_hours(moods.get("by_hour")),
            genre_diversity=_unit(row.genre_diversity),
            artist_diversity=_unit(row.artist_diversity),
            mood_diversity=_unit(row.mood_diversity),
        )

    @property
    def span(self) -> str:
        return SPANS.get(self.time_range, self.time_range)

    def mean(self, feature: str) -> float | None:
        stats = self.features.get(feature)
        return stats.mean if stats else None

    @property
    def genre_plays(self) -> int:
        return sum(count for _, count in self.genres)

    @property
    def hourly_plays(self) -> int:
        return sum(plays for _, plays in self.plays_by_hour)

    def peak_hours(self, n: int = 3) -> tuple[int, ...]:
        """The `n` hours with the most plays (an earlier hour wins a tie), in clock order."""
        ranked = sorted(self.plays_by_hour, key=lambda item: (-item[1], item[0]))
        return tuple(sorted(hour for hour, _ in ranked[:n]))


def format_feature(feature: str, value: float) -> str:
    """How a feature's value is written everywhere (prompts, offline text), so the same number
    reads the same in both."""
    if feature == "tempo":
        return f"{value:.0f} BPM"
    if feature == "loudness":
        return f"{value:.1f} dB"
    return f"{value:.2f}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _unit(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _genres(value: Any) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for name, raw in _dict(value).items():
        count = _number(raw)
        if isinstance(name, str) and name.strip() and count is not None and count > 0:
            key = _clip(name.strip())
            counts[key] = counts.get(key, 0) + int(count)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _features(value: Any) -> dict[str, FeatureStats]:
    features: dict[str, FeatureStats] = {}
    for name, raw in _dict(value).items():
        stats = _dict(raw)
        mean = _number(stats.get("mean"))
        if not isinstance(name, str) or mean is None:
            continue
        count = _number(stats.get("count"))
        features[name] = FeatureStats(
            mean=mean,
            std=_number(stats.get("std")),
            min=_number(stats.get("min")),
            max=_number(stats.get("max")),
            count=int(count) if count is not None and count >= 0 else None,
        )
    return features


def _moods(value: Any) -> tuple[MoodShare, ...]:
    raw = {name: _dict(entry) for name, entry in _dict(value).items() if isinstance(name, str)}
    counts = {name: max(0, int(_number(entry.get("count")) or 0)) for name, entry in raw.items()}
    total = sum(counts.values())
    moods = []
    for name, entry in raw.items():
        # The stored share when it is a fraction; else one computed from the counts.
        share = _unit(entry.get("share"))
        if share is None:
            share = counts[name] / total if total else None
        if share is not None and (share > 0 or counts[name] > 0):
            moods.append(MoodShare(_clip(name), counts[name], share))
    return tuple(sorted(moods, key=lambda mood: (-mood.share, mood.quadrant)))


def _hours(value: Any) -> tuple[tuple[int, int], ...]:
    hours: dict[int, int] = {}
    for key, raw in _dict(value).items():
        try:
            hour = int(key)
        except (TypeError, ValueError):
            continue
        plays = _number(raw)
        if 0 <= hour <= 23 and plays is not None and plays > 0:
            hours[hour] = hours.get(hour, 0) + int(plays)
    return tuple(sorted(hours.items()))


def _clip(name: str) -> str:
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…"
