"""The root of every error backbeat raises on purpose.

Subclasses carry data, not just messages, so the API can map them to status codes in one place.
"""


class BackbeatError(Exception):
    """Base of all errors raised by backbeat."""


class ConfigurationError(BackbeatError):
    """Settings that cannot work together, or a value that cannot be parsed."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class UpstreamError(BackbeatError):
    """The upstream (Spotify, ReccoBeats) answered with an error that retrying will not fix,
    or kept failing until the caller's time ran out."""

    def __init__(self, upstream: str, endpoint: str, status: int | None, message: str) -> None:
        where = f"{upstream} {endpoint}"
        super().__init__(f"{where}: {status or 'no answer'} {message}".strip())
        self.upstream = upstream
        self.endpoint = endpoint
        self.status = status
        self.message = message


class UpstreamNotFound(UpstreamError):
    """The upstream has no such resource (404)."""


class UpstreamUnavailable(UpstreamError):
    """5xx, timeouts or connection errors until the caller's max_wait was spent."""


class UpstreamAuthError(UpstreamError):
    """The upstream refused the credentials (401/403), or a token could not be obtained."""
