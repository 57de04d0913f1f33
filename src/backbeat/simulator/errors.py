"""Spotify's error shapes: `{"error": {"status", "message"[, "reason"]}}` for the Web API,
`{"error", "error_description"}` for the accounts service."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


class SpotifyError(Exception):
    """A Web API error response; raised anywhere in a route, rendered by `spotify_error_handler`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.reason:
            error["reason"] = self.reason
        return {"error": error}


class AccountsError(Exception):
    """An OAuth error of the accounts service (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


async def spotify_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SpotifyError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def accounts_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccountsError)
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description}, status_code=exc.status
    )
