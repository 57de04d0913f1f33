"""What can go wrong with an insight, as data the API maps to status codes: a request naming an
unknown type, tone or time range (400/422), a snapshot or insight that is not the caller's (404),
and a provider that could not write one (502, or 503 when it was only busy)."""

from __future__ import annotations

from collections.abc import Sequence

from backbeat.errors import BackbeatError


class InvalidInsightRequest(BackbeatError):
    """`field` (insight_type, tone or time_range) named something else than one of `allowed`."""

    def __init__(
        self, field: str, value: str, allowed: Sequence[str], *, insight_type: str | None = None
    ) -> None:
        where = f" for {insight_type}" if insight_type else ""
        shown = value if len(value) <= 64 else value[:61] + "..."
        super().__init__(f"unknown {field} {shown!r}{where}; expected one of: {', '.join(allowed)}")
        self.field = field
        self.value = value
        self.allowed = tuple(allowed)
        self.insight_type = insight_type


class SnapshotNotFound(BackbeatError):
    """No such snapshot, or not this user's: the two look the same so ids cannot be probed."""

    def __init__(self, snapshot_id: str) -> None:
        super().__init__(f"no listening snapshot {snapshot_id!r}")
        self.snapshot_id = snapshot_id


class InsightNotFound(BackbeatError):
    """No such insight, or not this user's."""

    def __init__(self, insight_id: str) -> None:
        super().__init__(f"no insight {insight_id!r}")
        self.insight_id = insight_id


class InsightGenerationFailed(BackbeatError):
    """The provider refused the request (bad key, unknown model, …) or never produced output
    that matched the schema. `status` is the endpoint's HTTP status when there was one."""

    def __init__(self, provider: str, model: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{provider} ({model}): {reason}")
        self.provider = provider
        self.model = model
        self.reason = reason
        self.status = status


class InsightProviderUnavailable(InsightGenerationFailed):
    """Timeouts, connection errors, 429 or 5xx until the retries ran out: worth trying later,
    after `retry_after` seconds when the endpoint said so."""

    def __init__(
        self,
        provider: str,
        model: str,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, model, reason, status)
        self.retry_after = retry_after
