"""One upstream call, the whole way: cache → in-flight dedup → limiter slot → request → outcome
reported to the limiter → retries → cache store. Both the Spotify and the ReccoBeats clients are
thin typed layers over `Upstream.call`; batch gets cache per entity instead (`entities.py`)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from backbeat.clock import Clock
from backbeat.errors import UpstreamAuthError, UpstreamError, UpstreamNotFound, UpstreamUnavailable
from backbeat.ratelimit import Grant, Limiter, OpClass, Priority, UpstreamBanned
from backbeat.ratelimit.limiter import DEFAULT_MAX_WAIT
from backbeat.upstream import timing
from backbeat.upstream.cache import ResponseCache
from backbeat.upstream.dedup import Dedup
from backbeat.upstream.metrics import UpstreamMetrics

QUOTA_REASON = "QUOTA_EXCEEDED"
TOKEN_RECHECK_AFTER = 30.0  # seconds waited for a slot after which the token is looked up again


@dataclass(frozen=True)
class Request:
    endpoint: str  # its name in limits, cache TTLs and stats
    path: str  # relative to the upstream's base URL
    method: str = "GET"
    params: Mapping[str, str | int] = field(default_factory=dict)
    body: Any = None  # JSON
    op_class: OpClass = "read"
    priority: Priority = Priority.NORMAL
    max_wait: float | None = None  # None: the limiter's default for the priority
    user: str | None = None  # whose token; None for app calls
    token: str | None = None  # a caller's own bearer token (pass-through), used as given


@dataclass(frozen=True)
class Answer:
    """A successful answer: its 2xx status and its JSON body (None for an empty one)."""

    status: int
    body: Any


class TokenSource(Protocol):
    async def token(self, user: str | None) -> str | None:
        """A bearer token for the user (None: the app's), or None when the upstream needs none."""
        ...

    async def invalidate(self, user: str | None, token: str) -> None:
        """The upstream refused `token` (401): forget it so the next call gets a fresh one."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5  # first retry of a 5xx/timeout waits up to this, doubling ...
    backoff_max: float = 30.0  # ... up to this


class Retryable(UpstreamUnavailable):
    """A failure worth another attempt: 429, 5xx, timeout, connection error, stale token."""

    def __init__(
        self,
        upstream: str,
        endpoint: str,
        status: int | None,
        message: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(upstream, endpoint, status, message)
        self.retry_after = retry_after


def retry_after_of(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _error_of(response: httpx.Response) -> tuple[str, str | None]:
    """Spotify's `{"error": {"message", "reason"}}`, ReccoBeats' own shapes, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200], None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", "")), error.get("reason")
    if isinstance(body, dict) and "message" in body:
        return str(body["message"]), None
    return str(error or body)[:200], None


class Upstream:
    def __init__(
        self,
        name: str,
        base_url: str,
        http: httpx.AsyncClient,
        limiter: Limiter,
        app: str,
        tokens: TokenSource,
        clock: Clock,
        *,
        cache: ResponseCache | None = None,
        dedup: Dedup | None = None,
        retry: RetryPolicy | None = None,
        namespace: str = "",
        metrics: UpstreamMetrics | None = None,
    ) -> None:
        """`namespace` prefixes endpoint names in the shared cache (e.g. `reccobeats.`)."""
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.limiter = limiter
        self.app = app
        self.tokens = tokens
        self.clock = clock
        self.cache = cache
        self.dedup = dedup
        self.retry = retry or RetryPolicy()
        self.namespace = namespace
        self.metrics = metrics
        self.upstream_requests = 0  # sent over the network by this process

    async def call(self, request: Request) -> Any:
        """The JSON answer (None for an empty one), or a typed error."""
        if self.metrics is not None:
            self.metrics.asked_for(self.app, request.endpoint)
        if request.method != "GET":
            return (await self._fetch(request)).body
        key = self._key(request)
        if self.cache is not None:
            cached = await self.cache.get(self.namespace + request.endpoint, key)
            if cached is not None:
                return cached
        if self.dedup is None:
            return await self._fetch_and_store(request, key)
        return await self.dedup.run(
            key, lambda: self._fetch_and_store(request, key), across=_shared(request)
        )

    def asked(self, endpoint: str, calls: int = 1) -> None:
        """Count calls asked of this client that `call` does not count: a batch get's chunks,
        answered per entity (`cached_entities`) or fetched through `fetch_shared`."""
        if self.metrics is not None:
            self.metrics.asked_for(self.app, endpoint, calls)

    async def cached_entities(self, endpoint: str, path: str, ids: Sequence[str]) -> dict[str, Any]:
        """The cached answers of the single GETs of `ids` (`path` with `{}` for the id, e.g.
        `/artists/{}` of endpoint `artist`): the very entries `call` reads and writes for them.
        Only the ids found; none without a cache."""
        if self.cache is None or not ids:
            return {}
        keys = [self._entity_key(endpoint, path, id_) for id_ in ids]
        values = await self.cache.get_many(self.namespace + endpoint, keys)
        return {id_: value for id_, value in zip(ids, values, strict=True) if value is not None}

    async def store_entities(self, endpoint: str, path: str, bodies: Mapping[str, Any]) -> None:
        """Cache each entity (id → JSON, e.g. from a batch answer) as its single GET's answer.
        None (an id the upstream does not have) is not stored."""
        if self.cache is not None:
            entries = {self._entity_key(endpoint, path, i): body for i, body in bodies.items()}
            await self.cache.set_many(self.namespace + endpoint, entries)

    async def fetch_shared(self, request: Request) -> Any:
        """A GET shared with identical ones in flight (dedup), but neither counted as asked nor
        cached whole: for the part of a batch get that its caller counts and caches per entity."""
        key = self._key(request)
        if self.dedup is None:
            return await self._fetch_body(request)
        return await self.dedup.run(key, lambda: self._fetch_body(request))

    async def send(self, request: Request) -> Answer:
        """`call` with the status, for callers that relay it (the `/v1` pass-through): a write
        keeps the upstream's (201 for a created playlist); a GET, maybe cached or shared, is 200,
        or 204 when empty (as Spotify answers an empty GET)."""
        if request.method != "GET":
            return await self._fetch(request)
        body = await self.call(request)
        return Answer(204 if body is None else 200, body)

    def _key(self, request: Request) -> str:
        params = {k: str(v) for k, v in request.params.items()}
        # A caller's own token stands for its user, without the token itself in the key.
        user = request.user or (_digest(request.token) if request.token else None)
        if self.cache is not None:
            endpoint = self.namespace + request.endpoint
            return self.cache.key(endpoint, request.path, params, user)
        query = "&".join(f"{k}={params[k]}" for k in sorted(params))
        return f"{self.name}:{user or ''}:{request.path}?{query}"

    def _entity_key(self, endpoint: str, path: str, id_: str) -> str:
        return self._key(Request(endpoint, path.format(id_)))

    async def _fetch_body(self, request: Request) -> Any:
        return (await self._fetch(request)).body

    async def _fetch_and_store(self, request: Request, key: str) -> Any:
        body = await self._fetch_body(request)
        if self.cache is not None and body is not None:
            await self.cache.set(self.namespace + request.endpoint, key, body)
        return body

    async def _fetch(self, request: Request) -> Answer:
        budget = (
            DEFAULT_MAX_WAIT[request.priority] if request.max_wait is None else request.max_wait
        )
        deadline = self.clock.time() + budget

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, Retryable) and error.retry_after:
                return error.retry_after
            exponent = min(
                self.retry.backoff_max,
                self.retry.backoff_base * 2.0 ** (state.attempt_number - 1),
            )
            return exponent * random.uniform(0.5, 1.0)

        def stop(state: RetryCallState) -> bool:
            upcoming = state.upcoming_sleep or 0.0
            return (
                state.attempt_number >= self.retry.max_attempts
                or self.clock.time() + upcoming >= deadline
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Retryable),
            wait=wait,
            stop=stop,
            sleep=self.clock.sleep,
            reraise=True,
        )
        refused_tokens: list[str] = []
        async for attempt in retrying:
            with attempt:
                return await self._attempt(request, deadline, refused_tokens)
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(self, request: Request, deadline: float, refused: list[str]) -> Answer:
        # The token first: a lookup (a database read, maybe a refresh) between the grant and
        # the send would hold the slot longer (it is held until the answer is back); a user
        # who must log in again takes no slot. Only a long wait could have outlived it
        # (refreshed 60 s early).
        token = request.token or await self.tokens.token(request.user)
        remaining = max(0.0, deadline - self.clock.time())
        grant = await self.limiter.acquire(
            self.app,
            request.op_class,
            endpoint=request.endpoint,
            priority=request.priority,
            max_wait=remaining,
            held=True,  # every answer is reported below, and a cancelled call too
        )
        if self.metrics is not None:
            self.metrics.granted(self.app, request.op_class, request.priority.name, grant.waited)
        timing.record(grant.waited)
        if grant.waited > TOKEN_RECHECK_AFTER and request.token is None:
            token = await self.tokens.token(request.user)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self.upstream_requests += 1
            response = await self.http.request(
                request.method,
                f"{self.base_url}{request.path}",
                params=dict(request.params),
                json=request.body,
                headers=headers,
                timeout=max(0.5, min(remaining, self.http.timeout.read or remaining)),
            )
        except (httpx.TimeoutException, httpx.TransportError) as error:
            if self.metrics is not None:
                self.metrics.answered(self.app, request.op_class, request.endpoint, None)
            await self.limiter.report(grant, "server_error")
            raise Retryable(self.name, request.endpoint, None, type(error).__name__) from error
        except BaseException:
            # Cancelled on its way (a caller gave up): it may still arrive, so its slot is held
            # until now like any other, not until the limiter takes its process for dead.
            await asyncio.shield(self.limiter.report(grant, "server_error"))
            raise
        return await self._outcome(request, grant, response, token, refused)

    async def _outcome(
        self,
        request: Request,
        grant: Grant,
        response: httpx.Response,
        token: str | None,
        refused: list[str],
    ) -> Answer:
        status = response.status_code
        if self.metrics is not None:
            self.metrics.answered(self.app, request.op_class, request.endpoint, status)
        if status == 429:
            retry_after = retry_after_of(response)
            message, reason = _error_of(response)
            ban_after = self.limiter.policy(self.app).ban_threshold
            if self.metrics is not None:
                self.metrics.throttled(self.app, reason == QUOTA_REASON, retry_after, ban_after)
            # A quota answer, or a wait longer than the ban threshold (the limiter records it
            # as a ban either way): callers defer instead of retrying into it.
            if reason == QUOTA_REASON or (retry_after or 0.0) > ban_after:
                kind: Literal["quota", "rate_limited"] = (
                    "quota" if reason == QUOTA_REASON else "rate_limited"
                )
                await self.limiter.report(grant, kind, retry_after)
                raise UpstreamBanned(self.app, self.clock.time() + (retry_after or 0.0))
            await self.limiter.report(grant, "rate_limited", retry_after)
            raise Retryable(self.name, request.endpoint, 429, message, retry_after)
        if status >= 500:
            await self.limiter.report(grant, "server_error")
            raise Retryable(self.name, request.endpoint, status, _error_of(response)[0])
        await self.limiter.report(grant, "success")
        if status == 401 and token is not None and not refused and request.token is None:
            # Expired or revoked early: one more attempt with a fresh token, not more.
            refused.append(token)
            await self.tokens.invalidate(request.user, token)
            raise Retryable(self.name, request.endpoint, 401, _error_of(response)[0])
        if status in (401, 403):
            raise UpstreamAuthError(self.name, request.endpoint, status, _error_of(response)[0])
        if status == 404:
            raise UpstreamNotFound(self.name, request.endpoint, 404, _error_of(response)[0])
        if status >= 400:
            raise UpstreamError(self.name, request.endpoint, status, _error_of(response)[0])
        # orjson: decoding answers was a sixth of a busy worker's CPU with the standard library
        return Answer(status, orjson.loads(response.content) if response.content else None)


def _shared(request: Request) -> bool:
    """Whether other processes may want the same answer at the same moment: catalog calls,
    yes; a user's own data is asked by that user's job or request, so only in one place."""
    return request.user is None and request.token is None


def _digest(token: str) -> str:
    return "bearer:" + hashlib.sha256(token.encode()).hexdigest()[:16]
