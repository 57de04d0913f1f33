"""Errors to HTTP responses, in one place: every error body is `{"error": {"status", "message"}}`.

backbeat's own errors (`BackbeatError`) and the limiter's (`RateLimitError`, a separate root so
`ratelimit` stays independent) map by class; a busy or banned upstream is a 503 with
`Retry-After`, never a 500. So is an unreachable database (refused or dropped connections, a
server starting up or shutting down, an exhausted pool): the driver's errors are recognised
here, and the body names the database without quoting the driver's message (which may carry
SQL and its parameters).
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Iterator, Mapping

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa
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


DATABASE_RETRY_AFTER = 5  # seconds: a restarting or failing-over database is back within a few
DATABASE_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")
# Errors that say the database cannot be reached now, not that the request was wrong.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,  # SQLite locked or unopenable; Postgres connection failures
    sa.InterfaceError,  # a connection closed under the driver
    sa.TimeoutError,  # no pooled connection within pool_timeout
    sa.DisconnectionError,
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExist, ConnectionFailure, …
    asyncpg.exceptions.OperatorInterventionError,  # CannotConnectNow, AdminShutdown, …
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,  # "connection is closed"
)
# Raised by the drivers as they are: what a refused or dropped connection looks like.
_NETWORK = (OSError,)  # ConnectionRefusedError, ConnectionResetError, TimeoutError, gaierror


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)  # SQLAlchemy keeps the driver's error here
        current = orig if isinstance(orig, BaseException) else current.__cause__


def _raised_by_database(error: BaseException) -> bool:
    """Whether `error` came out of the database stack (its traceback passes through a driver)."""
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in DATABASE_DRIVERS:
            return True
    return False


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached right now (retrying may help)."""
    for link in _chain(error):
        if isinstance(link, sa.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, _UNREACHABLE):
            return True
        if isinstance(link, _NETWORK) and _raised_by_database(link):
            return True
    return False


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


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if database_unavailable(error):
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            type(error).__name__,
        )
        return error_response(
            503,
            "the database is unavailable; retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            service="database",
        )
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
    # The database's errors: 503 when it cannot be reached, a JSON 500 otherwise.
    for kind in (sa.SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(kind, _database_error)
