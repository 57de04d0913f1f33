"""Job metrics in Prometheus' format, one registry per runtime (so tests and several runtimes in
one process never share counters). Each process exports its own: the API at `/metrics`,
`backbeat worker` and `backbeat scheduler` on `--metrics-port`.

- `backbeat_job_outcomes_total{kind,status}`: job runs by what came of them;
- `backbeat_job_duration_seconds{kind,status}`: how long those runs took;
- `backbeat_jobs_reaped_total`, `backbeat_jobs_failed_recently{kind}`: the maintenance tasks'.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from backbeat.jobs.lifecycle import JobRecord, JobStatus

# Seconds: a job runs from a fraction of a second (a refit) to many minutes (a paced library scan).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class JobMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.outcomes = Counter(
            "backbeat_job_outcomes",
            "Job runs by kind and what came of them (succeeded, failed, retrying, deferred).",
            ["kind", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "backbeat_job_duration_seconds",
            "Seconds job runs took, by kind and what came of them.",
            ["kind", "status"],
            buckets=DURATION_BUCKETS,
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

    def outcome(self, kind: str, status: JobStatus | None, seconds: float | None = None) -> None:
        """One run of a `kind` job ended as `status` (None: nothing recorded) after `seconds`."""
        if status is not None:
            self.outcomes.labels(kind=kind, status=status.value).inc()
            if seconds is not None:
                self.durations.labels(kind=kind, status=status.value).observe(max(0.0, seconds))

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
