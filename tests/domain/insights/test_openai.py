"""The openai provider against a real local HTTP server that speaks chat completions: replies,
retries (5xx, 429 with Retry-After, timeouts), the repair round, and failures that must not be
retried or leak the key. Backoff waits go through a `FakeClock`, so nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr

from backbeat.clock import FakeClock
from backbeat.config import InsightsSettings, Settings
from backbeat.domain.insights import (
    InsightGenerationFailed,
    InsightProviderUnavailable,
    InvalidInsightRequest,
    OfflineProvider,
    OpenAIProvider,
    SnapshotFacts,
    WellnessInsight,
    provider_from_settings,
)
from backbeat.simulator.server import BackgroundServer, free_port
from tests.domain.insights.chat_server import ChatEndpoint, Reply, chat_app, ok

KEY = "sk-test-0123456789abcdef"
GOOD = {
    "headline": "Restless but bright",
    "summary": "Valence 0.37 and energy 0.63 across 48 tracks: tense, driving music.",
    "observations": ["40% of plays are tense and energetic"],
    "suggestions": ["Wind down with calmer music in the evening"],
    "mood_score": 45,
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BackgroundServer, ChatEndpoint]]:
    endpoint = ChatEndpoint()
    with BackgroundServer(chat_app(endpoint)) as server:
        yield server, endpoint


@pytest.fixture
def endpoint(served: tuple[BackgroundServer, ChatEndpoint]) -> ChatEndpoint:
    served[1].script(ok(GOOD))
    return served[1]


@pytest.fixture
def settings(served: tuple[BackgroundServer, ChatEndpoint]) -> InsightsSettings:
    return InsightsSettings(
        provider="openai",
        base_url=f"{served[0].url}/v1/",
        api_key=SecretStr(KEY),
        model="gpt-test",
        timeout=5.0,
        max_retries=2,
        temperature=0.3,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def provider(settings: InsightsSettings, clock: FakeClock) -> AsyncIterator[OpenAIProvider]:
    async with httpx.AsyncClient() as http:
        yield OpenAIProvider(settings, http, clock=clock)


async def test_a_good_reply_is_validated_and_the_request_is_well_formed(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts, clock: FakeClock
) -> None:
    output, model = await provider.generate("wellness", "direct", facts)
    assert output == WellnessInsight.model_validate(GOOD)
    assert model == "gpt-test"  # the asked-for name, not the answer's dated build
    [(headers, body)] = endpoint.received
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-test"
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.3
    system, user = body["messages"]
    assert system["role"] == "system"
    assert '"mood_score"' in system["content"]  # the output's JSON schema
    assert "without softening it" in system["content"]  # the tone
    assert user["role"] == "user"
    assert "energy: mean 0.63" in user["content"]
    assert clock.monotonic() == FakeClock().monotonic()  # nothing waited


async def test_a_server_error_is_retried_after_a_backoff(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts, clock: FakeClock
) -> None:
    start = clock.monotonic()
    endpoint.script(Reply(status=500, body={"error": {"message": "boom"}}), ok(GOOD))
    output, _ = await provider.generate("wellness", "neutral", facts)
    assert output.headline == GOOD["headline"]
    assert len(endpoint.received) == 2
    assert 0.5 <= clock.monotonic() - start <= 1.0  # the first backoff, jittered


async def test_a_429_waits_what_retry_after_says(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts, clock: FakeClock
) -> None:
    start = clock.monotonic()
    limited = Reply(
        status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "7"}
    )
    endpoint.script(limited, ok(GOOD))
    await provider.generate("wellness", "neutral", facts)
    assert len(endpoint.received) == 2
    assert clock.monotonic() - start == 7.0


async def test_retry_after_ms_is_honoured_too(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts, clock: FakeClock
) -> None:
    start = clock.monotonic()
    limited = Reply(status=503, body={}, headers={"retry-after-ms": "2500", "Retry-After": "9"})
    endpoint.script(limited, ok(GOOD))
    await provider.generate("wellness", "neutral", facts)
    assert clock.monotonic() - start == 2.5


async def test_a_long_retry_after_fails_at_once_and_passes_the_wait_on(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(Reply(status=429, body={}, headers={"Retry-After": "3600"}))
    with pytest.raises(InsightProviderUnavailable) as raised:
        await provider.generate("wellness", "neutral", facts)
    assert (raised.value.status, raised.value.retry_after) == (429, 3600.0)
    assert len(endpoint.received) == 1


async def test_server_errors_until_the_retries_run_out_are_unavailable(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(Reply(status=503, body={"error": {"message": "overloaded"}}))
    with pytest.raises(InsightProviderUnavailable) as raised:
        await provider.generate("wellness", "neutral", facts)
    assert len(endpoint.received) == 3  # max_retries=2
    assert raised.value.status == 503
    assert "overloaded" in str(raised.value)
    assert isinstance(raised.value, InsightGenerationFailed)


async def test_a_timeout_is_retried(
    settings: InsightsSettings, endpoint: ChatEndpoint, facts: SnapshotFacts, clock: FakeClock
) -> None:
    endpoint.script(Reply(json.dumps(GOOD), delay=1.0), ok(GOOD))
    fast = settings.model_copy(update={"timeout": 0.2})
    async with OpenAIProvider(fast, clock=clock) as provider:  # its own client
        output, _ = await provider.generate("wellness", "neutral", facts)
    assert output.model_dump()["mood_score"] == 45
    assert len(endpoint.received) == 2


async def test_an_unreachable_endpoint_is_unavailable_after_the_retries(
    settings: InsightsSettings, facts: SnapshotFacts, clock: FakeClock
) -> None:
    nowhere = settings.model_copy(update={"base_url": f"http://127.0.0.1:{free_port()}/v1"})
    async with OpenAIProvider(nowhere, clock=clock) as provider:
        with pytest.raises(InsightProviderUnavailable, match=r"cannot reach .*\(3 attempts\)"):
            await provider.generate("roast", "savage", facts)


async def test_an_invalid_reply_is_sent_back_once_with_the_problem(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(ok("Sure! Here is your insight: {"), ok(GOOD))
    output, _ = await provider.generate("wellness", "neutral", facts)
    assert output.model_dump()["mood_score"] == 45
    first, second = (body["messages"] for _, body in endpoint.received)
    assert len(first) == 2
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": "Sure! Here is your insight: {"}
    assert second[3]["role"] == "user"
    assert second[3]["content"].startswith("That reply was not valid: not JSON")


async def test_a_schema_violation_names_the_field_in_the_repair_request(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(ok(GOOD | {"mood_score": 150}), ok(GOOD))
    await provider.generate("wellness", "neutral", facts)
    repair = endpoint.received[1][1]["messages"][3]["content"]
    assert "mood_score: Input should be less than or equal to 100" in repair


async def test_a_reply_that_stays_invalid_fails(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(ok(GOOD | {"observations": []}))
    with pytest.raises(InsightGenerationFailed) as raised:
        await provider.generate("wellness", "neutral", facts)
    assert not isinstance(raised.value, InsightProviderUnavailable)
    assert len(endpoint.received) == 2  # the reply and one repair, no more
    assert "observations" in raised.value.reason
    assert (raised.value.provider, raised.value.model) == ("openai", "gpt-test")


async def test_a_reply_without_a_message_counts_as_invalid(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(Reply(body={"choices": []}), ok(GOOD))
    await provider.generate("wellness", "neutral", facts)
    repair = endpoint.received[1][1]["messages"][2]
    assert repair["role"] == "user"  # nothing to quote back
    assert "no choices[0].message" in repair["content"]


async def test_a_fenced_reply_is_accepted(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    endpoint.script(ok(f"```json\n{json.dumps(GOOD)}\n```"))
    output, _ = await provider.generate("wellness", "neutral", facts)
    assert output.model_dump()["mood_score"] == 45
    assert len(endpoint.received) == 1


async def test_a_refused_key_fails_at_once_without_showing_it(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    message = f"Incorrect API key provided: {KEY}."
    endpoint.script(Reply(status=401, body={"error": {"message": message}}))
    with pytest.raises(InsightGenerationFailed) as raised:
        await provider.generate("wellness", "neutral", facts)
    error = raised.value
    assert len(endpoint.received) == 1
    assert error.status == 401
    assert "API key" in str(error)
    assert KEY not in str(error)
    assert KEY not in repr(error.args)
    assert KEY[3:12] not in str(error)


async def test_other_client_errors_fail_at_once_with_the_endpoints_reason_scrubbed(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    message = f"Invalid value for 'temperature' (key {KEY})"
    endpoint.script(Reply(status=400, body={"error": {"message": message}}))
    with pytest.raises(InsightGenerationFailed, match="temperature") as raised:
        await provider.generate("wellness", "neutral", facts)
    assert len(endpoint.received) == 1
    assert raised.value.status == 400
    assert KEY not in str(raised.value)


async def test_no_key_sends_no_authorization(
    settings: InsightsSettings, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    async with OpenAIProvider(settings.model_copy(update={"api_key": None})) as provider:
        await provider.generate("wellness", "neutral", facts)
    assert "authorization" not in endpoint.received[0][0]


async def test_an_unknown_type_is_refused_before_any_request(
    provider: OpenAIProvider, endpoint: ChatEndpoint, facts: SnapshotFacts
) -> None:
    with pytest.raises(InvalidInsightRequest):
        await provider.generate("horoscope", "neutral", facts)
    assert endpoint.received == []


async def test_the_settings_choose_the_provider(settings: InsightsSettings) -> None:
    async with httpx.AsyncClient() as http:
        offline = provider_from_settings(Settings(), http)
        openai = provider_from_settings(Settings(insights=settings), http)
    assert isinstance(offline, OfflineProvider)
    assert isinstance(openai, OpenAIProvider)
    assert (openai.name, openai.model) == ("openai", "gpt-test")
    assert openai.url == settings.base_url.rstrip("/") + "/chat/completions"
