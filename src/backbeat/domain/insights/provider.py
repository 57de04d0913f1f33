"""The seam between the service and whatever writes the text: a provider turns one snapshot's
facts into a validated output of the requested type. Providers are chosen by settings
(`provider_from_settings`); the service never knows which one it has."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from backbeat.domain.insights.facts import SnapshotFacts
from backbeat.domain.insights.schemas import InsightOutput


class Generated(NamedTuple):
    output: InsightOutput
    model: str  # stored with the insight, and part of its cache key


class InsightProvider(Protocol):
    @property
    def name(self) -> str:
        """Stored as `GeneratedInsight.provider` (offline, openai)."""
        ...

    @property
    def model(self) -> str:
        """The model a request asks for: the service looks up cached insights by it."""
        ...

    async def generate(self, insight_type: str, tone: str, facts: SnapshotFacts) -> Generated:
        """A validated output of `insight_type` (an `OUTPUTS` model) in `tone`; raises
        `InvalidInsightRequest` for an unknown type or tone, `InsightGenerationFailed` when no
        valid output could be had."""
        ...
