"""Errors of the limiter. `ratelimit` stands alone, so it has its own root; the API maps these
to status codes together with backbeat's own errors."""

from __future__ import annotations


class RateLimitError(Exception):
    """Root of the limiter's errors."""


class UpstreamBanned(RateLimitError):
    """The upstream banned the app (quota, or a Retry-After above the ban threshold) until
    `retry_at` (epoch seconds). Interactive calls fail fast; batch jobs reschedule to `retry_at`."""

    def __init__(self, app: str, retry_at: float) -> None:
        super().__init__(f"{app} is banned by the upstream until {retry_at:.0f} (epoch seconds)")
        self.app = app
        self.retry_at = retry_at


class SlotTimeout(RateLimitError):
    """No slot within the caller's `max_wait`; `retry_after` says when one may be free."""

    def __init__(self, app: str, max_wait: float, retry_after: float, reason: str) -> None:
        super().__init__(
            f"no slot for {app} within {max_wait:g} s ({reason}); retry in {retry_after:.2f} s"
        )
        self.app = app
        self.max_wait = max_wait
        self.retry_after = retry_after
        self.reason = reason


class LimiterUnavailable(RateLimitError):
    """The shared limiter's store cannot be reached and the limiter fails closed."""

    def __init__(self, app: str, cause: BaseException) -> None:
        super().__init__(f"the rate limiter store is unreachable for {app}: {cause}")
        self.app = app
        self.cause = cause


class UnknownApp(RateLimitError):
    def __init__(self, app: str) -> None:
        super().__init__(f"no rate-limit policy for upstream app {app!r}")
        self.app = app
