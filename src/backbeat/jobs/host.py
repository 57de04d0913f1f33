"""The processes that consume jobs, all on the same runtime and task code:

- `embedded_jobs` — inside the API server's lifespan, on its loop (`backbeat serve`);
- `run_worker` — `backbeat worker --queues …`: the given queues, on a loop thread of its own;
- `run_scheduler` — `backbeat scheduler`: the cron queue, while it holds the scheduler lease.

Periodic tasks fire in exactly one process: the one holding the lease (a Redis key with a TTL
when the queues are on Redis, a file lock under `var/` when they are SQLite files). Others
stand by and take over when the holder dies.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from types import FrameType

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from backbeat.config import Settings
from backbeat.domain.services import Services, open_services
from backbeat.jobs.bridge import LoopBridge
from backbeat.jobs.consumer import ConsumerGroup
from backbeat.jobs.leader import FileLease, LeaderLoop, Lease, RedisLease
from backbeat.jobs.runtime import JobRuntime, Plugin, open_runtime
from backbeat.jobs.tasks import BUILTIN_PLUGINS

log = logging.getLogger(__name__)


def scheduler_lease(settings: Settings) -> Lease:
    jobs = settings.jobs
    if settings.redis_url:
        key = f"{jobs.prefix}:scheduler:leader"
        return RedisLease.from_url(settings.redis_url, key, ttl=jobs.scheduler_lease_ttl)
    return FileLease(Path(jobs.var_dir) / f"{jobs.prefix}_scheduler.lock")


class CronRole:
    """Consumes the cron queue with periodic tasks on, between election and deposition."""

    def __init__(self, runtime: JobRuntime) -> None:
        self._runtime = runtime
        self._group: ConsumerGroup | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._group is not None

    def elect(self) -> None:
        with self._lock:
            if self._group is None:
                jobs = self._runtime.settings.jobs
                self._group = ConsumerGroup.build(
                    self._runtime.queues, jobs, names=(), scheduler=True
                )
                self._group.start()

    def depose(self) -> None:
        with self._lock:
            group, self._group = self._group, None
        if group is not None:
            group.stop(graceful=True)


class Candidacy:
    """The leader loop on a thread of its own: `start()`, then `stop()`, which steps down (the
    cron consumers finish their tasks) and releases the lease. `stop()` blocks: from the loop
    those tasks run on, call it through `asyncio.to_thread`."""

    def __init__(self, lease: Lease, role: CronRole, interval: float) -> None:
        self._loop = LeaderLoop(lease, role.elect, role.depose, interval=interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop.run, args=(self._stop,), name="scheduler-lease", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def lease_interval(settings: Settings) -> float:
    return settings.jobs.scheduler_lease_ttl / 3


@asynccontextmanager
async def embedded_jobs(
    services: Services, *, consumers: bool, plugins: Iterable[Plugin] = ()
) -> AsyncIterator[JobRuntime]:
    """The job runtime on the running loop, on the process's services; with `consumers`, every
    queue consumed here and the cron queue too while this process holds the scheduler lease."""
    settings = services.settings
    async with open_runtime(
        settings,
        LoopBridge.attach(),
        services.database,
        scheduler=consumers,
        plugins=[*BUILTIN_PLUGINS, *plugins],
        clock=services.clock,
        services=services,
    ) as runtime:
        if not consumers:
            yield runtime
            return
        group = ConsumerGroup.build(runtime.queues, settings.jobs)
        candidacy = Candidacy(
            scheduler_lease(settings), CronRole(runtime), lease_interval(settings)
        )
        group.start()
        candidacy.start()
        try:
            yield runtime
        finally:
            # Both wait for worker threads whose tasks need this loop: wait off the loop.
            await asyncio.to_thread(candidacy.stop)
            await group.stop_async()


def run_worker(
    settings: Settings,
    names: Iterable[str],
    *,
    workers: int | None = None,
    plugins: Iterable[Plugin] = (),
    metrics_port: int | None = None,
) -> None:
    """Consume `names` until SIGINT/SIGTERM; `workers` threads per queue (default: settings);
    metrics served on `metrics_port` when given."""
    chosen = tuple(names)
    jobs = settings.jobs
    if workers is not None:
        jobs = jobs.model_copy(
            update={"workers": {**jobs.workers, **dict.fromkeys(chosen, workers)}}
        )
    with _owned_runtime(settings, scheduler=False, plugins=plugins) as (runtime, services):
        for name in chosen:
            runtime.queues.huey(name)  # an unknown queue is refused before anything starts
        _serve_metrics(runtime, services, metrics_port)
        ConsumerGroup.build(runtime.queues, jobs, names=chosen).run_forever()


def run_scheduler(
    settings: Settings, *, plugins: Iterable[Plugin] = (), metrics_port: int | None = None
) -> None:
    """Fire periodic tasks while holding the scheduler lease, until SIGINT/SIGTERM."""
    with _owned_runtime(settings, scheduler=True, plugins=plugins) as (runtime, services):
        _serve_metrics(runtime, services, metrics_port)
        role = CronRole(runtime)
        stopping = _stop_on_signals()
        loop = LeaderLoop(
            scheduler_lease(settings), role.elect, role.depose, interval=lease_interval(settings)
        )
        log.info("scheduler started; waiting for the lease")
        loop.run(stopping)


@contextmanager
def _owned_runtime(
    settings: Settings, *, scheduler: bool, plugins: Iterable[Plugin]
) -> Iterator[tuple[JobRuntime, Services]]:
    """A runtime on a loop thread of this process's own, with its services, closed on the way
    out."""
    if not settings.redis_url:
        log.warning(
            "no Redis URL: this process has its own queues under %s and its own upstream "
            "budget; processes share both only through BACKBEAT_REDIS_URL",
            settings.jobs.var_dir,
        )
    bridge = LoopBridge.start()
    stack = AsyncExitStack()

    async def enter() -> tuple[JobRuntime, Services]:
        services = await stack.enter_async_context(open_services(settings))
        runtime = await stack.enter_async_context(
            open_runtime(
                settings,
                bridge,
                services.database,
                scheduler=scheduler,
                plugins=[*BUILTIN_PLUGINS, *plugins],
                clock=services.clock,
                services=services,
            )
        )
        return runtime, services

    try:
        yield bridge.run(enter)
    finally:
        try:
            bridge.run(stack.aclose)
        finally:
            bridge.close()


class _Registries(Collector):
    """Several registries served as one: the jobs' and the upstream client's metrics."""

    def __init__(self, *registries: CollectorRegistry) -> None:
        self.registries = registries

    def collect(self) -> Iterator[Metric]:
        for registry in self.registries:
            yield from registry.collect()


def _serve_metrics(runtime: JobRuntime, services: Services, port: int | None) -> None:
    if port is None:
        return
    served = CollectorRegistry()
    served.register(_Registries(runtime.metrics.registry, services.upstreams.metrics.registry))
    # A daemon thread: it ends with the process.
    prometheus_client.start_http_server(port, registry=served)
    log.info("metrics on http://0.0.0.0:%d/metrics", port)


def _stop_on_signals() -> threading.Event:
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    return stopping
