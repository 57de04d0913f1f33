"""Job metrics in Prometheus' format, one registry per runtime (so tests and several runtimes in
one process never share counters). Each process exports its own: the API at `/metrics`,
`backbeat worker` and `backbeat scheduler` on `--metrics-port`."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from backbeat.jobs.lifecycle import JobRecord, JobStatus


class JobMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.outcomes = Counter(
            "backbeat_job_outcomes",
            "Job runs by kind and what came of them (succeeded, failed, retrying, deferred).",
            ["kind", "status"],
            registry=self.registry,
        )
        self.reaped = Counter(
            "backbeat_jobs_reaped",
            "Running jobs whose worker went silent, given back to their queue.",
            registry=self.registry,
        )
        self.recent_failures = Gauge(
            "backbeat_jobs_failed_recently",
            "Jobs that failed for good in the failed-job monitor's last window, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def outcome(self, kind: str, status: JobStatus | None) -> None:
        if status is not None:
            self.outcomes.labels(kind=kind, status=status.value).inc()

    def failures(self, failed: Iterable[JobRecord]) -> None:
        """Set the gauge to this window's failures; kinds without any go back to 0."""
        counts: dict[str, int] = {}
        for job in failed:
            counts[job.kind] = counts.get(job.kind, 0) + 1
        for labels in list(self.recent_failures._metrics):
            if labels[0] not in counts:
                self.recent_failures.labels(kind=labels[0]).set(0)
        for kind, count in counts.items():
            self.recent_failures.labels(kind=kind).set(count)
