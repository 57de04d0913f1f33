"""Versioned prompts: every type has a version and tones, unknown ones are clear errors, and a
prompt carries the snapshot's numbers and the output's JSON schema."""

from __future__ import annotations

import hashlib
import json

import pytest

from backbeat.domain.insights import (
    INSIGHT_TYPES,
    OUTPUTS,
    PROMPT_VERSIONS,
    TONES,
    InvalidInsightRequest,
    SnapshotFacts,
    build_prompt,
    resolve,
)
from backbeat.errors import BackbeatError

# A fingerprint of each version's prompts (every tone, the sample snapshot). A change to the
# wording, the tones, the schema or the way numbers are written changes it: bump the type's
# version in prompts.py (stored insights must say which prompt wrote them), then pin anew.
PINNED = {
    "wellness-v1": "0ab3a2efd413bea3",
    "roast-v1": "5726b5b38467d401",
    "productivity-v1": "f86f1e7265b788d9",
    "weekly_summary-v1": "e7277bb70b1769af",
}


def test_every_type_has_a_version_and_tones() -> None:
    assert tuple(PROMPT_VERSIONS) == tuple(TONES) == INSIGHT_TYPES == tuple(OUTPUTS)
    assert PROMPT_VERSIONS == {
        "wellness": "wellness-v1",
        "roast": "roast-v1",
        "productivity": "productivity-v1",
        "weekly_summary": "weekly_summary-v1",
    }
    assert TONES == {
        "wellness": ("supportive", "neutral", "direct"),
        "roast": ("gentle", "savage"),
        "productivity": ("coach", "neutral"),
        "weekly_summary": ("neutral",),
    }


@pytest.mark.parametrize("insight_type", INSIGHT_TYPES)
def test_the_prompt_has_not_changed_under_its_version(
    insight_type: str, facts: SnapshotFacts
) -> None:
    text = "".join(
        prompt.system + prompt.user
        for tone in TONES[insight_type]
        for prompt in [build_prompt(insight_type, tone, facts)]
    )
    version = PROMPT_VERSIONS[insight_type]
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert fingerprint == PINNED.get(version), (
        f"the {insight_type} prompt changed: bump its version, then pin {version!r}: "
        f"{fingerprint!r} in PINNED"
    )


def test_no_tone_means_the_types_default() -> None:
    assert resolve("wellness")[1] == "supportive"
    assert resolve("roast", None)[1] == "gentle"
    assert resolve("productivity")[1] == "coach"
    assert resolve("roast", "savage")[1] == "savage"


def test_an_unknown_type_is_an_error_naming_the_allowed_ones(facts: SnapshotFacts) -> None:
    with pytest.raises(InvalidInsightRequest) as raised:
        build_prompt("horoscope", None, facts)
    error = raised.value
    assert isinstance(error, BackbeatError)
    assert (error.field, error.value, error.insight_type) == ("insight_type", "horoscope", None)
    assert error.allowed == INSIGHT_TYPES
    assert str(error) == (
        "unknown insight_type 'horoscope'; expected one of: "
        "wellness, roast, productivity, weekly_summary"
    )


def test_an_unknown_tone_is_an_error_naming_the_types_tones() -> None:
    with pytest.raises(InvalidInsightRequest) as raised:
        resolve("roast", "supportive")  # a wellness tone, not a roast one
    error = raised.value
    assert (error.field, error.value, error.insight_type) == ("tone", "supportive", "roast")
    assert error.allowed == ("gentle", "savage")
    assert "for roast" in str(error)


def test_a_huge_value_is_clipped_in_the_message() -> None:
    with pytest.raises(InvalidInsightRequest) as raised:
        resolve("x" * 10_000)
    assert len(str(raised.value)) < 200
    assert raised.value.value == "x" * 10_000


def test_the_prompt_carries_the_snapshots_numbers(facts: SnapshotFacts) -> None:
    prompt = build_prompt("wellness", "direct", facts)
    for number in (
        "tracks analysed: 48",
        "indie pop 14",
        "energy: mean 0.63, std 0.14, min 0.21, max 0.94, tracks 48",
        "tempo: mean 118 BPM",
        "loudness: mean -7.4 dB",
        "tense_energetic 40% (19 plays)",
        "10h 14",
        "genre 0.83, artist 0.91, mood 0.87",
        "short_term",
        "2026-11-29",
    ):
        assert number in prompt.user
    assert prompt.version == "wellness-v1"
    assert prompt.tone == "direct"
    assert "say what the numbers show without softening it" in prompt.system


def test_absent_numbers_are_written_as_unknown() -> None:
    prompt = build_prompt("roast", "gentle", SnapshotFacts("s", "u", "long_term"))
    assert "top genres (count): unknown" in prompt.user
    assert "mood quadrants (share of plays): unknown" in prompt.user
    assert "genre unknown, artist unknown, mood unknown" in prompt.user


@pytest.mark.parametrize("insight_type", INSIGHT_TYPES)
def test_the_prompt_carries_the_outputs_json_schema(
    insight_type: str, facts: SnapshotFacts
) -> None:
    prompt = build_prompt(insight_type, None, facts)
    schema = OUTPUTS[insight_type].model_json_schema()
    assert json.dumps(schema, ensure_ascii=False, sort_keys=True) in prompt.system
    assert [message["role"] for message in prompt.messages()] == ["system", "user"]
    assert prompt.messages()[1]["content"] == prompt.user
