"""Background jobs on Huey: queues, the loop bridge, job rows and their runner, fan-out,
the user-processing limit, the reaper, embedded consumers and the cron schedule (§5)."""

from backbeat.jobs.bridge import BridgeClosed, LoopBridge
from backbeat.jobs.consumer import ConsumerGroup, EmbeddedConsumer
from backbeat.jobs.enqueue import Enqueued, Enqueuer, spread_interval
from backbeat.jobs.lifecycle import (
    ACTIVE,
    CLAIMABLE,
    FINISHED,
    Dispatcher,
    Handler,
    JobKind,
    JobRecord,
    JobStatus,
    JobStore,
    NewJob,
    RunLater,
    UnknownJobKind,
)
from backbeat.jobs.limits import UserLimiter
from backbeat.jobs.memory import MemoryJobStore
from backbeat.jobs.queues import HUEY_PRIORITY, JobQueues
from backbeat.jobs.reaper import Reaper
from backbeat.jobs.runner import JobRunner, RetryPolicy, RunOutcome, register_tasks
from backbeat.jobs.schedule import CronHandler, maintenance_handlers, parse_cron, register_periodic

__all__ = [
    "ACTIVE",
    "CLAIMABLE",
    "FINISHED",
    "HUEY_PRIORITY",
    "BridgeClosed",
    "ConsumerGroup",
    "CronHandler",
    "Dispatcher",
    "EmbeddedConsumer",
    "Enqueued",
    "Enqueuer",
    "Handler",
    "JobKind",
    "JobQueues",
    "JobRecord",
    "JobRunner",
    "JobStatus",
    "JobStore",
    "LoopBridge",
    "MemoryJobStore",
    "NewJob",
    "Reaper",
    "RetryPolicy",
    "RunLater",
    "RunOutcome",
    "UnknownJobKind",
    "UserLimiter",
    "maintenance_handlers",
    "parse_cron",
    "register_periodic",
    "register_tasks",
    "spread_interval",
]
