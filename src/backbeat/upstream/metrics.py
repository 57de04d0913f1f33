"""Upstream metrics in Prometheus' format, one registry per `UpstreamStack` (never module-level
globals, so tests and several stacks in one process never share counters).

- `backbeat_upstream_requests_total{app,endpoint}`: calls asked of the client, before the cache
  and in-flight sharing answer some of them (what a client without them would send);
- `backbeat_upstream_calls_total{app,class,endpoint,status}`: requests sent, by the HTTP status
  that came back (`error` for a timeout or a connection failure);
- `backbeat_upstream_429_total{app,reason}`: 429 answers, by what the limiter made of them
  (`rate`: a pause, `ban`: a Retry-After above the ban threshold, `quota`: QUOTA_EXCEEDED);
- `backbeat_limiter_wait_seconds{app,class,priority}`: how long each grant waited for its slot;
- `backbeat_cache_hits_total{endpoint}` and `backbeat_cache_misses_total{endpoint}`: read at
  scrape time from the response cache's own counters;
- `backbeat_dedup_calls_total{role}`: calls that went through in-flight sharing, read at scrape
  time from its counters: `leader` made the call, `process` shared another caller's call of
  this process, `other_process` got the answer another process had fetched.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from backbeat.upstream.cache import ResponseCache
from backbeat.upstream.dedup import Dedup

# Seconds: interactive grants take well under a second, batch ones up to minutes.
WAIT_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class CacheCollector(Collector):
    """The response cache's hits and misses per endpoint, as counters."""

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "backbeat_cache_hits", "Response-cache hits by endpoint.", labels=["endpoint"]
        )
        misses = CounterMetricFamily(
            "backbeat_cache_misses", "Response-cache misses by endpoint.", labels=["endpoint"]
        )
        for endpoint, counts in self.cache.metrics().items():
            hits.add_metric([endpoint], counts["hits"])
            misses.add_metric([endpoint], counts["misses"])
        yield hits
        yield misses


class DedupCollector(Collector):
    """In-flight sharing's own counters: who made a call, who shared one."""

    def __init__(self, dedup: Dedup) -> None:
        self.dedup = dedup

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "backbeat_dedup_calls",
            "Calls through in-flight sharing: made (leader) or shared, in this process or another.",
            labels=["role"],
        )
        calls.add_metric(["leader"], self.dedup.leaders)
        calls.add_metric(["process"], self.dedup.local_followers)
        calls.add_metric(["other_process"], self.dedup.remote_followers)
        yield calls


class UpstreamMetrics:
    def __init__(
        self,
        cache: ResponseCache | None = None,
        registry: CollectorRegistry | None = None,
        dedup: Dedup | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.asked = Counter(
            "backbeat_upstream_requests",
            "Calls asked of the upstream client, before the cache and in-flight sharing.",
            ["app", "endpoint"],
            registry=self.registry,
        )
        self.calls = Counter(
            "backbeat_upstream_calls",
            "Requests sent upstream by app, operation class, endpoint and HTTP status.",
            ["app", "class", "endpoint", "status"],
            registry=self.registry,
        )
        self.http_429 = Counter(
            "backbeat_upstream_429",
            "429 answers from upstream by reason (rate, ban, quota).",
            ["app", "reason"],
            registry=self.registry,
        )
        self.waits = Histogram(
            "backbeat_limiter_wait_seconds",
            "Seconds a call waited for its limiter grant.",
            ["app", "class", "priority"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        if cache is not None:
            self.registry.register(CacheCollector(cache))
        if dedup is not None:
            self.registry.register(DedupCollector(dedup))

    def asked_for(self, app: str, endpoint: str, calls: int = 1) -> None:
        if calls > 0:
            self.asked.labels(app, endpoint).inc(calls)

    def granted(self, app: str, op_class: str, priority: str, waited: float) -> None:
        self.waits.labels(app, op_class, priority).observe(max(0.0, waited))

    def answered(self, app: str, op_class: str, endpoint: str, status: int | None) -> None:
        """One request's outcome: its HTTP status, or None when no answer came."""
        label = "error" if status is None else str(status)
        self.calls.labels(app, op_class, endpoint, label).inc()

    def throttled(
        self, app: str, quota: bool, retry_after: float | None, ban_threshold: float
    ) -> None:
        """A 429, named as the limiter counts it: the quota spent, a Retry-After long enough
        to be a ban, or a pause."""
        banned = retry_after is not None and retry_after > ban_threshold
        reason = "quota" if quota else "ban" if banned else "rate"
        self.http_429.labels(app, reason).inc()
