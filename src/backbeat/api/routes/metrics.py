"""`GET /metrics`: this process's metrics in Prometheus' text format, three registries in one
answer:

- the job runtime's (`backbeat.jobs.metrics`): job outcomes and durations, reaped jobs, recent
  failures;
- the upstream stack's (`backbeat.upstream.metrics`): upstream calls by app, class, endpoint and
  status, 429s by reason, limiter waits, cache hits and misses;
- gauges read at scrape time, from the same sources as the dashboard: queue depths
  (`backbeat_queue_depth{queue}`, `backbeat_queue_scheduled{queue}`), jobs by status
  (`backbeat_jobs{status}`) and the shared limiter's state per app (`backbeat_limiter_*`); left
  out, with a warning in the log, while the limiter's store or the queues cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from backbeat.api.auth import ServicesDep
from backbeat.api.dashboard.state import LiveState, live_state
from backbeat.api.deps import JobRuntimeDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

# Per app: gauge name, `AppMetrics` attribute, help.
LIMITER_GAUGES = (
    ("multiplier", "multiplier", "Adaptive ceiling: the share of each limit in force (1: all)."),
    ("last_429_ceiling", "last_429", "The ceiling that drew the last rate 429 (0: none yet)."),
    ("pause_seconds", "pause_remaining", "Seconds left of a pause after a 429 (0: none)."),
    ("ban_seconds", "ban_remaining", "Seconds left of an upstream ban (0: none)."),
    ("in_flight", "in_flight", "Calls holding a concurrency lease now."),
)


class LiveCollector(Collector):
    """Gauges of one `LiveState`, gathered (asynchronously) just before the scrape renders."""

    def __init__(self, state: LiveState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        yield _gauge("queue_depth", "Messages ready to run, per queue.", "queue", state.queues)
        yield _gauge(
            "queue_scheduled",
            "Messages waiting for their time, per queue.",
            "queue",
            state.scheduled,
        )
        yield _gauge("jobs", "Jobs in the job store by status.", "status", state.jobs)
        for name, attribute, help_text in LIMITER_GAUGES:
            family = GaugeMetricFamily(f"backbeat_limiter_{name}", help_text, labels=["app"])
            for app in state.apps:
                family.add_metric([app.app], float(getattr(app, attribute)))
            yield family
        waiters = GaugeMetricFamily(
            "backbeat_limiter_waiters", "Callers waiting for a slot.", labels=["app", "priority"]
        )
        used = GaugeMetricFamily(
            "backbeat_limiter_window_used",
            "Grants in the rolling window now.",
            labels=["app", "window"],
        )
        limit = GaugeMetricFamily(
            "backbeat_limiter_window_limit",
            "The window's limit in force (after the adaptive ceiling).",
            labels=["app", "window"],
        )
        for app in state.apps:
            for priority, count in app.waiters.items():
                waiters.add_metric([app.app, priority], count)
            for window in app.windows:
                used.add_metric([app.app, window.key], window.used)
                limit.add_metric([app.app, window.key], window.effective_limit)
        yield waiters
        yield used
        yield limit


def _gauge(name: str, help_text: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"backbeat_{name}", help_text, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


@router.get("/metrics", response_class=Response)
async def metrics(found: ServicesDep, runtime: JobRuntimeDep) -> Response:
    live = CollectorRegistry()
    try:
        live.register(LiveCollector(await live_state(found, runtime)))
    except Exception:  # a store that is down costs its gauges, not the process's counters
        log.warning("/metrics: the live gauges are unavailable", exc_info=True)
    body = b"".join(
        generate_latest(registry)
        for registry in (runtime.metrics.registry, found.upstreams.metrics.registry, live)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
