"""`open_runtime`: the job system of one process — store, queues, runner, enqueuer, reaper and
the registered tasks — built from settings on the process's loop.

The same runtime serves every mode; only the consumers differ (`backbeat.jobs.host`). What jobs
exist comes from plugins: `module:function` entries (`JobsSettings.plugins`) called with a
`JobContext` that return a `Contribution` of job kinds and cron handlers. The apps contribute
theirs that way, so this package never imports the domain (imports point inward).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from backbeat.clock import Clock, SystemClock
from backbeat.config import Settings
from backbeat.db.engine import Database
from backbeat.domain.services import Services
from backbeat.errors import ConfigurationError, ReloginRequired
from backbeat.jobs.bridge import LoopBridge
from backbeat.jobs.enqueue import Enqueued, Enqueuer
from backbeat.jobs.lifecycle import JobKind, JobStore
from backbeat.jobs.limits import UserLimiter, UserSlots
from backbeat.jobs.metrics import JobMetrics
from backbeat.jobs.queues import JobQueues
from backbeat.jobs.reaper import Reaper
from backbeat.jobs.runner import JobRunner, RetryPolicy, register_tasks
from backbeat.jobs.schedule import CronHandler, maintenance_handlers, register_periodic
from backbeat.jobs.shared_limits import RedisUserLimiter
from backbeat.jobs.sqlstore import SqlJobStore
from backbeat.ratelimit import Rate


@dataclass(frozen=True, slots=True)
class Contribution:
    kinds: Sequence[JobKind] = ()
    cron: Mapping[str, CronHandler] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a plugin may build its handlers on (all bound to the process's loop)."""

    settings: Settings
    database: Database
    store: JobStore
    enqueuer: Enqueuer
    clock: Clock
    services: Services | None = None  # the apps' services, in processes that run app jobs


Plugin = Callable[[JobContext], Contribution]


def load_plugin(path: str) -> Plugin:
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError("jobs.plugins", f"{path!r} is not of the form 'module:function'")
    try:
        plugin = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError("jobs.plugins", f"{path!r} cannot be loaded: {error}") from error
    if not callable(plugin):
        raise ConfigurationError("jobs.plugins", f"{path!r} is not callable")
    return plugin  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class JobRuntime:
    settings: Settings
    database: Database
    store: JobStore
    queues: JobQueues
    enqueuer: Enqueuer
    runner: JobRunner
    reaper: Reaper
    kinds: Mapping[str, JobKind]
    cron: Mapping[str, CronHandler]  # registered on the cron queue when `scheduler`
    metrics: JobMetrics

    async def enqueue_scan(
        self, user_ids: Iterable[str], kind: str, **options: Any
    ) -> list[Enqueued]:
        """One `kind` job per user, spread over the window the scan budget needs
        (`jobs.scan_calls_per_user` calls each at `scan_rate`)."""
        return await self.enqueuer.enqueue_batch(
            user_ids,
            kind,
            calls_per_job=self.settings.jobs.scan_calls_per_user,
            rate_per_second=scan_rate(self.settings),
            **options,
        )


def scan_rate(settings: Settings) -> float:
    """Calls per second a batch scan may use: its share of Spotify's read budget."""
    read = Rate.parse(settings.ratelimit.spotify_read)
    window = read.period + settings.ratelimit.margin
    return read.limit / window * settings.jobs.scan_budget_share


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    bridge: LoopBridge,
    database: Database,
    *,
    scheduler: bool = False,
    plugins: Iterable[Plugin] = (),
    clock: Clock | None = None,
    queues: JobQueues | None = None,
    services: Services | None = None,
) -> AsyncIterator[JobRuntime]:
    """The job system on `database`, its tasks registered on the queues (Redis when
    `settings.redis_url`, SQLite files otherwise). `scheduler`: also register the periodic
    tasks, for the one process that runs them. Plugins: `plugins`, then the configured ones."""
    jobs = settings.jobs
    time: Clock = clock or SystemClock()
    queues = queues or JobQueues.from_settings(settings)
    store = SqlJobStore(database.sessions)
    kinds: dict[str, JobKind] = {}  # filled below; the enqueuer and runner read it live
    enqueuer = Enqueuer(store, queues, kinds, max_attempts=jobs.max_retries + 1, clock=time)
    shared_users = (  # every process on this Redis shares the user limit
        RedisUserLimiter.from_url(
            settings.redis_url,
            f"{jobs.prefix}:users",
            jobs.max_concurrent_users,
            jobs.inter_user_delay,
            lease_ttl=jobs.user_lease_ttl,
            clock=time,
        )
        if settings.redis_url
        else None
    )
    users: UserSlots = shared_users or UserLimiter(
        jobs.max_concurrent_users, jobs.inter_user_delay, clock=time
    )
    runner = JobRunner(
        store,
        kinds,
        queues,
        policy=RetryPolicy.from_settings(jobs),
        users=users,
        clock=time,
        heartbeat_interval=jobs.heartbeat_interval,
        fatal=(ReloginRequired,),  # retrying cannot help until the user logs in again
    )
    reaper = Reaper.from_settings(jobs, store, queues, clock=time)
    metrics = JobMetrics()
    maintenance = maintenance_handlers(store, reaper, jobs, clock=time, metrics=metrics)
    cron: dict[str, CronHandler] = dict(maintenance)
    context = JobContext(settings, database, store, enqueuer, time, services)
    for plugin in [*plugins, *map(load_plugin, jobs.plugins)]:
        contribution = plugin(context)
        for kind in contribution.kinds:
            if kind.name in kinds:
                raise ConfigurationError("jobs.plugins", f"job kind {kind.name!r} comes twice")
            queues.huey(kind.queue)  # an unknown queue fails here, not at the first enqueue
            kinds[kind.name] = kind
        cron.update(contribution.cron)
    register_tasks(queues, bridge, runner, metrics=metrics)
    if scheduler:
        register_periodic(queues, bridge, cron, jobs)
    try:
        yield JobRuntime(
            settings, database, store, queues, enqueuer, runner, reaper, kinds, cron, metrics
        )
    finally:
        try:
            queues.close()
        finally:
            if shared_users is not None:
                await shared_users.close()
