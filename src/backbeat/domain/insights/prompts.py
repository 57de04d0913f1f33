"""Versioned prompts: each insight type has one `PROMPT_VERSIONS` entry, bumped whenever its
wording, tones or output schema change, so a stored insight says exactly which prompt wrote it
(the app this replaces stamped one fixed version on everything). A test pins a fingerprint of
every prompt and fails when the text changes under an old version.

The system message is the stable part (task, tone, JSON schema) and the user message carries the
snapshot's numbers, so endpoints that cache prompt prefixes can reuse the first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from backbeat.domain.insights.errors import InvalidInsightRequest
from backbeat.domain.insights.facts import SnapshotFacts, format_feature
from backbeat.domain.insights.schemas import INSIGHT_TYPES, OUTPUTS, InsightOutput
from backbeat.domain.listening.features import FEATURES


@dataclass(frozen=True, slots=True)
class PromptSpec:
    insight_type: str
    version: str
    task: str
    tones: Mapping[str, str]  # name → how to write; the first is the default

    @property
    def output(self) -> type[InsightOutput]:
        return OUTPUTS[self.insight_type]

    @property
    def default_tone(self) -> str:
        return next(iter(self.tones))


SPECS: Mapping[str, PromptSpec] = MappingProxyType(
    {
        "wellness": PromptSpec(
            "wellness",
            "wellness-v1",
            "Write a wellness insight: what the listening suggests about mood and energy, "
            "observations grounded in the numbers, and small practical suggestions. This is not "
            "medical advice: do not diagnose. mood_score estimates the mood of the music, mostly "
            "from valence, then energy.",
            {
                "supportive": "warm and encouraging; frame what you see kindly",
                "neutral": "factual and even; no praise, no judgement",
                "direct": "plain and brief; say what the numbers show without softening it",
            },
        ),
        "roast": PromptSpec(
            "roast",
            "roast-v1",
            "Roast this music taste: witty and specific to the genres and numbers. Roast the "
            "taste, never the person: nothing about identity, looks, health or worth.",
            {
                "gentle": "affectionate teasing, as a friend would",
                "savage": "sharp and merciless about the music, still never about the person",
            },
        ),
        "productivity": PromptSpec(
            "productivity",
            "productivity-v1",
            "Write a productivity insight: when and how this listening could support focused "
            "work. focus_hours are hours of the day (0-23) chosen from the plays by hour; leave "
            "the list empty when plays by hour are unknown. Recommendations are about music for "
            "work: instrumental or vocal, tempo, energy, timing.",
            {
                "coach": "a motivating coach talking to the listener as 'you'",
                "neutral": "factual and concise",
            },
        ),
        "weekly_summary": PromptSpec(
            "weekly_summary",
            "weekly_summary-v1",
            "Write a weekly summary of this listening: what stood out, with highlights drawn "
            "from the numbers.",
            {"neutral": "friendly and factual"},
        ),
    }
)

PROMPT_VERSIONS: Mapping[str, str] = MappingProxyType({k: s.version for k, s in SPECS.items()})
TONES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {k: tuple(s.tones) for k, s in SPECS.items()}
)

SYSTEM = """\
You write short insights about one person's music listening for the backbeat app.
Use only the numbers in the listening snapshot; never invent tracks, artists or statistics.
Audio features are Spotify's: 0-1 scales, except tempo (BPM) and loudness (dB).

{task}

Tone: {tone}.

Reply with one JSON object that validates against this JSON schema, and nothing else:
{schema}"""


@dataclass(frozen=True, slots=True)
class Prompt:
    spec: PromptSpec
    tone: str
    system: str
    user: str

    @property
    def version(self) -> str:
        return self.spec.version

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def resolve(insight_type: str, tone: str | None = None) -> tuple[PromptSpec, str]:
    """The spec of `insight_type` and the tone to use (its default when `tone` is None)."""
    spec = SPECS.get(insight_type)
    if spec is None:
        raise InvalidInsightRequest("insight_type", insight_type, INSIGHT_TYPES)
    if tone is None:
        return spec, spec.default_tone
    if tone not in spec.tones:
        raise InvalidInsightRequest("tone", tone, tuple(spec.tones), insight_type=insight_type)
    return spec, tone


def build_prompt(insight_type: str, tone: str | None, facts: SnapshotFacts) -> Prompt:
    spec, tone = resolve(insight_type, tone)
    schema = json.dumps(spec.output.model_json_schema(), ensure_ascii=False, sort_keys=True)
    system = SYSTEM.format(task=spec.task, tone=spec.tones[tone], schema=schema)
    user = f"Listening snapshot:\n{describe(facts)}\n\nWrite the {insight_type} insight as JSON."
    return Prompt(spec, tone, system, user)


def describe(facts: SnapshotFacts) -> str:
    """The snapshot as the model reads it: every number, and "unknown" for what is absent."""
    lines = [
        f"- time range: {facts.time_range} ({facts.span})",
        f"- snapshot date: {facts.snapshot_date.isoformat() if facts.snapshot_date else 'unknown'}",
        f"- tracks analysed: {facts.track_count} (top tracks listed: {len(facts.top_track_ids)},"
        f" top artists listed: {len(facts.top_artist_ids)})",
    ]
    genres = ", ".join(f"{name} {count}" for name, count in facts.genres[:10])
    lines.append(f"- top genres (count): {genres or 'unknown'}")
    lines.append("- audio features (mean, std, min, max, tracks):")
    ordered = [n for n in FEATURES if n in facts.features]
    ordered += sorted(set(facts.features) - set(FEATURES))
    for name in ordered:
        stats = facts.features[name]
        numbers = [("mean", stats.mean), ("std", stats.std), ("min", stats.min), ("max", stats.max)]
        shown = ", ".join(f"{k} {format_feature(name, v)}" for k, v in numbers if v is not None)
        count = f", tracks {stats.count}" if stats.count is not None else ""
        lines.append(f"  - {name}: {shown}{count}")
    if not ordered:
        lines.append("  - unknown")
    moods = ", ".join(f"{m.quadrant} {m.share:.0%} ({m.count} plays)" for m in facts.moods)
    lines.append(f"- mood quadrants (share of plays): {moods or 'unknown'}")
    hours = ", ".join(f"{hour:02d}h {plays}" for hour, plays in facts.plays_by_hour)
    lines.append(f"- plays by hour of day: {hours or 'unknown'}")
    diversity = ", ".join(
        f"{name} {value:.2f}" if value is not None else f"{name} unknown"
        for name, value in (
            ("genre", facts.genre_diversity),
            ("artist", facts.artist_diversity),
            ("mood", facts.mood_diversity),
        )
    )
    lines.append(f"- diversity (0 = all one kind, 1 = evenly spread): {diversity}")
    return "\n".join(lines)
