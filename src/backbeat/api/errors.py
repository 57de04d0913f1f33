"""Errors to HTTP responses, in one place: every error body is `{"error": {"status", "message"}}`.

backbeat's own errors (`BackbeatError`) and the limiter's (`RateLimitError`, a separate root so
`ratelimit` stays independent) map by class; a busy or banned upstream is a 503 with
`Retry-After`, never a 500.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backbeat.domain.insights import (
    InsightGenerationFailed,
    InsightNotFound,
    InsightProviderUnavailable,
    InvalidInsightRequest,
    SnapshotNotFound,
)
from backbeat.domain.ranking.leaderboards import LeaderboardBusy
from backbeat.errors import (
    BackbeatError,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    ReloginRequired,
    TooManyRequests,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from backbeat.ratelimit import RateLimitError, SlotTimeout, UpstreamBanned

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (SnapshotNotFound, 404),
    (InsightNotFound, 404),
    (InvalidInsightRequest, 422),
    (InsightProviderUnavailable, 503),
    (InsightGenerationFailed, 502),
    (LeaderboardBusy, 503),
    (InvalidRequest, 422),
    (NotAuthenticated, 401),
    (TooManyRequests, 429),
    (ReloginRequired, 409),  # the user's state, not the request, is the problem
    (UpstreamNotFound, 404),
    (UpstreamAuthError, 502),
    (UpstreamUnavailable, 503),
    (UpstreamError, 502),  # the upstream refused what we sent (400 is mapped below)
    (UpstreamBanned, 503),
    (SlotTimeout, 503),
    (RateLimitError, 503),
)


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: object
) -> JSONResponse:
    body = {"error": {"status": status, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def _retry_after(error: Exception) -> dict[str, str] | None:
    seconds: float | None = None
    if isinstance(error, UpstreamBanned):
        seconds = error.retry_at - time.time()
    elif isinstance(error, SlotTimeout | TooManyRequests | InsightProviderUnavailable):
        seconds = error.retry_after
    if seconds is None:
        return None
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    if type(error) is UpstreamError and error.status == 400:
        # The upstream found the request malformed: here, a caller's value it would not take.
        return error_response(422, str(error))
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            headers = dict(_retry_after(error) or {})
            if status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            return error_response(status, str(error), headers=headers)
    log.error("unhandled %s on %s", type(error).__name__, request.url.path, exc_info=error)
    return error_response(500, "internal error")


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return error_response(error.status_code, str(error.detail), headers=error.headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": ".".join(str(part) for part in problem["loc"]), "problem": problem["msg"]}
        for problem in error.errors()
    ]
    message = "; ".join(f"{p['location']}: {p['problem']}" for p in problems)
    return error_response(422, message, problems=problems)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BackbeatError, _domain_error)
    app.add_exception_handler(RateLimitError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
