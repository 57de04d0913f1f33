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


class ReloginRequired(UpstreamAuthError):
    """Spotify refused the user's refresh token (access revoked, password changed): nothing can
    run for this user until they log in again."""

    def __init__(self, user: str, message: str) -> None:
        super().__init__("spotify", "token", 400, f"user {user} must log in again: {message}")
        self.user = user


class NotFound(BackbeatError):
    """No such resource — or not the caller's, which is told the same way (404)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind = kind
        self.key = key


class InvalidRequest(BackbeatError):
    """A request that cannot be carried out as asked (422), with what was wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotAuthenticated(BackbeatError):
    """No valid session or API token (401)."""


class TooManyRequests(BackbeatError):
    """The caller went over one of backbeat's own inbound limits (429 with Retry-After)."""

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(f"too many {what} requests; retry in {retry_after:.0f} s")
        self.what = what
        self.retry_after = retry_after
