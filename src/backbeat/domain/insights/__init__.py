"""Insights written from a listening snapshot: wellness, roast, productivity and the weekly
summary, in tone modes, from versioned prompts, as validated structured output.

    provider = provider_from_settings(settings, http)
    service = InsightService(database, provider, clock)
    insight_id = await service.generate(user_id, snapshot_id, "roast", "savage")

Providers: `offline` (deterministic, from the snapshot's own numbers) and `openai` (any
OpenAI-compatible chat-completions endpoint), chosen by `settings.insights.provider`.
"""

from __future__ import annotations

import httpx

from backbeat.clock import Clock
from backbeat.config import Settings
from backbeat.domain.insights.errors import (
    InsightGenerationFailed,
    InsightNotFound,
    InsightProviderUnavailable,
    InvalidInsightRequest,
    SnapshotNotFound,
)
from backbeat.domain.insights.facts import FeatureStats, MoodShare, SnapshotFacts
from backbeat.domain.insights.offline import OfflineProvider
from backbeat.domain.insights.openai import OpenAIProvider
from backbeat.domain.insights.prompts import (
    PROMPT_VERSIONS,
    TONES,
    Prompt,
    PromptSpec,
    build_prompt,
    resolve,
)
from backbeat.domain.insights.provider import Generated, InsightProvider
from backbeat.domain.insights.schemas import (
    INSIGHT_TYPES,
    OUTPUTS,
    InsightOutput,
    ProductivityInsight,
    RoastInsight,
    WeeklySummary,
    WellnessInsight,
)
from backbeat.domain.insights.service import InsightService, StoredInsight


def provider_from_settings(
    settings: Settings, http: httpx.AsyncClient, *, clock: Clock | None = None
) -> InsightProvider:
    """The provider `settings.insights.provider` names. `http` is the process's client (its
    pool is shared; the provider never closes it); `clock` paces the openai provider's retries."""
    insights = settings.insights
    if insights.provider == "openai":
        return OpenAIProvider(insights, http, clock=clock)
    return OfflineProvider()


__all__ = [
    "INSIGHT_TYPES",
    "OUTPUTS",
    "PROMPT_VERSIONS",
    "TONES",
    "FeatureStats",
    "Generated",
    "InsightGenerationFailed",
    "InsightNotFound",
    "InsightOutput",
    "InsightProvider",
    "InsightProviderUnavailable",
    "InsightService",
    "InvalidInsightRequest",
    "MoodShare",
    "OfflineProvider",
    "OpenAIProvider",
    "ProductivityInsight",
    "Prompt",
    "PromptSpec",
    "RoastInsight",
    "SnapshotFacts",
    "SnapshotNotFound",
    "StoredInsight",
    "WeeklySummary",
    "WellnessInsight",
    "build_prompt",
    "provider_from_settings",
    "resolve",
]
