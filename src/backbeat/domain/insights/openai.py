"""The `openai` provider: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
llama.cpp, LiteLLM, …) over httpx, asking for a JSON object and validating it.

Two kinds of retry, kept apart. The transport's: timeouts, connection errors, 429 and 5xx, up to
`max_retries` more attempts, waiting what the endpoint's Retry-After says, else a jittered
doubling backoff; the waits go through the injected clock, so tests never sleep. The reply's: a
reply that is not valid JSON for the schema is sent back once with the errors, because models
usually fix a named mistake. Any other 4xx (bad key, unknown model, malformed request) fails at
once: retrying cannot fix it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
from types import TracebackType
from typing import Any

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from backbeat.clock import Clock, SystemClock
from backbeat.config import InsightsSettings
from backbeat.domain.insights.errors import InsightGenerationFailed, InsightProviderUnavailable
from backbeat.domain.insights.facts import SnapshotFacts
from backbeat.domain.insights.prompts import Prompt, build_prompt
from backbeat.domain.insights.provider import Generated

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0  # seconds before the first retry (times a jitter in [0.5, 1]), doubling …
BACKOFF_MAX = 30.0  # … up to this
RETRY_AFTER_MAX = 60.0  # asked to wait longer: give up now and pass the wait on to the caller
RETRYABLE = frozenset({408, 429})  # and every 5xx


class _Transient(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _InvalidReply(Exception):
    def __init__(self, problem: str, content: str | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.content = content  # the model's text, sent back with the repair request


class OpenAIProvider:
    """`async with OpenAIProvider(settings, http) as provider:`; without `http` it opens (and
    closes) its own client, with `settings.timeout`."""

    name = "openai"

    def __init__(
        self,
        settings: InsightsSettings,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self._key = settings.api_key.get_secret_value() if settings.api_key else None
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=settings.timeout)
        self._clock = clock or SystemClock()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> OpenAIProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def generate(self, insight_type: str, tone: str, facts: SnapshotFacts) -> Generated:
        prompt = build_prompt(insight_type, tone, facts)
        messages = prompt.messages()
        try:
            return self._validated(prompt, await self._post(messages))
        except _InvalidReply as error:
            first = error
        log.warning(
            "invalid %s reply from %s, asking once more: %s",
            insight_type,
            self.model,
            first.problem,
        )
        if first.content is not None:
            messages.append({"role": "assistant", "content": first.content})
        messages.append({"role": "user", "content": _repair_request(first.problem)})
        try:
            return self._validated(prompt, await self._post(messages))
        except _InvalidReply as error:
            reason = f"no valid {insight_type} output after one repair: {error.problem}"
            raise InsightGenerationFailed(self.name, self.model, reason) from error

    def _validated(self, prompt: Prompt, body: Any) -> Generated:
        content = _content(body)
        try:
            data = json.loads(_unfenced(content))
        except json.JSONDecodeError as error:
            raise _InvalidReply(
                f"not JSON ({error.msg}, at character {error.pos})", content
            ) from error
        try:
            output = prompt.spec.output.model_validate(data)
        except ValidationError as error:
            raise _InvalidReply(_problems(error), content) from error
        # The asked-for name, not the answer's `model` (often a dated build of it): the cache
        # looks insights up by what the settings ask for.
        return Generated(output, self.model)

    async def _post(self, messages: list[dict[str, str]]) -> Any:
        attempts = self.settings.max_retries + 1
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            sleep=self._clock.sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send(messages)
        except _Transient as error:
            reason = f"{error.reason} ({attempts} attempts)"
            raise InsightProviderUnavailable(
                self.name, self.model, reason, error.status, error.retry_after
            ) from error
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _send(self, messages: list[dict[str, str]]) -> Any:
        payload = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "response_format": {"type": "json_object"},
        }
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        try:
            response = await self._http.post(
                self.url, json=payload, headers=headers, timeout=self.settings.timeout
            )
        except httpx.TimeoutException as error:
            raise _Transient(f"no answer within {self.settings.timeout:g} s") from error
        except httpx.TransportError as error:
            raise _Transient(f"cannot reach {self.url}: {type(error).__name__}") from error
        status = response.status_code
        if status in RETRYABLE or status >= 500:
            wait = _retry_after(response, self._clock.time())
            if wait is not None and wait > RETRY_AFTER_MAX:
                reason = f"{status}: told to wait {wait:.0f} s"
                raise InsightProviderUnavailable(self.name, self.model, reason, status, wait)
            raise _Transient(f"{status} {self._message(response)}".strip(), status, wait)
        if status >= 400:
            reason = self._refused(status, response)
            raise InsightGenerationFailed(self.name, self.model, reason, status)
        try:
            return response.json()
        except ValueError:
            return None  # not a chat completion: `_content` says so, and it is retried once

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after
        backoff = min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (state.attempt_number - 1))
        return backoff * random.uniform(0.5, 1.0)

    def _refused(self, status: int, response: httpx.Response) -> str:
        # 401/403 bodies may quote part of the key: say what to check instead of relaying them.
        if status == 401:
            fix = "fix" if self._key else "set"
            return f"the endpoint refused the API key (401): {fix} BACKBEAT_INSIGHTS__API_KEY"
        if status == 403:
            return f"the API key may not use model {self.model!r} (403)"
        if status == 404:
            return f"no such endpoint or model (404): check base_url {self.url!r} and the model"
        return f"the endpoint rejected the request ({status}): {self._message(response)}"

    def _message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            text = response.text
        else:
            error = body.get("error") if isinstance(body, dict) else None
            text = str(error.get("message", error) if isinstance(error, dict) else error or body)
        text = " ".join(text.split())[:200]
        return text.replace(self._key, "***") if self._key else text


def _content(body: Any) -> str:
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as error:
        raise _InvalidReply("the answer has no choices[0].message", None) from error
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        refusal = message.get("refusal") if isinstance(message, dict) else None
        problem = f"the model refused: {str(refusal)[:200]}" if refusal else "an empty message"
        raise _InvalidReply(problem, None)
    return content


def _unfenced(content: str) -> str:
    # Some endpoints wrap JSON mode's answer in a Markdown fence anyway.
    text = content.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].strip()
        text = text[4:] if text.startswith("json") else text
    return text


def _problems(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'the object'}: {problem['msg']}"
        for problem in error.errors()[:10]
    ]
    return "; ".join(problems)


def _repair_request(problem: str) -> str:
    return (
        f"That reply was not valid: {problem}. Answer again with only the JSON object, "
        "valid against the schema in the instructions."
    )


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait: OpenAI's `retry-after-ms`, else `Retry-After` in seconds or as a date."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = response.headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            pass
        try:
            return max(0.0, email.utils.parsedate_to_datetime(raw).timestamp() - now)
        except (TypeError, ValueError):
            return None
    return None
