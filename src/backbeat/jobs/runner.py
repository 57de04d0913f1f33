"""`JobRunner`: runs one job's async service and records what came of it; `register_tasks` puts
the thin Huey task in front of it.

Outcomes:
- success → succeeded (with the service's JSON result);
- `UpstreamBanned(retry_at)` → deferred until retry_at + jitter, the attempt given back: a ban is
  the upstream's state, not the job's fault, and no worker sleeps through it;
- `SlotTimeout` (the budget is busy) → deferred by its `retry_after`, likewise;
- any other error → retrying after the policy's delay (2, 4, 8 min) at LOW priority, until the
  job's attempts are spent → failed; errors in `fatal` fail at once.

While the service runs, a heartbeat task stamps the row every `heartbeat_interval` (real seconds).
If a beat finds the row taken over (the reaper judged this worker dead), the service is
cancelled: the newer attempt owns the job.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.clock import Clock, SystemClock
from backbeat.config import JobsSettings
from backbeat.jobs.bridge import LoopBridge
from backbeat.jobs.lifecycle import (
    CLAIMABLE,
    Dispatcher,
    JobKind,
    JobRecord,
    JobStatus,
    JobStore,
    RunLater,
    now_utc,
)
from backbeat.jobs.limits import UserSlots
from backbeat.jobs.metrics import JobMetrics
from backbeat.jobs.queues import JobQueues
from backbeat.ratelimit import Priority, SlotTimeout, UpstreamBanned

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    delays: tuple[float, ...] = (120.0, 240.0, 480.0)  # seconds before retry 1, 2, 3
    max_retries: int = 3
    jitter: float = 0.1  # up to this share of a delay is added, so retries do not stampede
    ban_jitter: float = 60.0  # seconds spread after a ban, likewise

    @classmethod
    def from_settings(cls, jobs: JobsSettings) -> RetryPolicy:
        return cls(jobs.retry_delays, jobs.max_retries, jobs.retry_jitter, jobs.ban_jitter)

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def delay(self, retry: int) -> float:
        """Seconds before retry number `retry` (1-based); past the list, the last one doubles."""
        if not self.delays:
            return 0.0
        if retry <= len(self.delays):
            return self.delays[max(retry, 1) - 1]
        return self.delays[-1] * 2.0 ** (retry - len(self.delays))


@dataclass(frozen=True, slots=True)
class RunOutcome:
    job_id: str
    status: JobStatus | None  # None: nothing recorded (missing, finished, taken, lost)
    run_at: datetime | None = None  # the next run, when retrying or deferred
    note: str = ""
    kind: str | None = None  # known once the job was claimed


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        kinds: Mapping[str, JobKind],
        dispatcher: Dispatcher,
        *,
        policy: RetryPolicy | None = None,
        users: UserSlots | None = None,
        clock: Clock | None = None,
        heartbeat_interval: float = 15.0,
        fatal: tuple[type[BaseException], ...] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.kinds = kinds
        self.dispatcher = dispatcher
        self.policy = policy or RetryPolicy()
        self.users = users
        self.clock: Clock = clock or SystemClock()
        self.heartbeat_interval = heartbeat_interval
        self.fatal = fatal
        self._rng = rng or random.Random()

    async def run(self, job_id: str) -> RunOutcome:
        job = await self.store.get(job_id)
        if job is None:
            log.warning("job %s does not exist; message dropped", job_id)
            return RunOutcome(job_id, None, note="missing")
        if job.status not in CLAIMABLE:  # finished, or running elsewhere: a duplicate message
            log.info("job %s is %s; nothing to do", job_id, job.status)
            return RunOutcome(job_id, None, note=f"already {job.status}")
        claimed = await self.store.mark_running(job_id, now=now_utc(self.clock))
        if claimed is None:
            return RunOutcome(job_id, None, note="taken")
        kind = self.kinds.get(claimed.kind)
        if kind is None:
            error = f"no handler for job kind {claimed.kind!r}"
            await self.store.failed(job_id, claimed.attempts, error, now=now_utc(self.clock))
            return RunOutcome(job_id, JobStatus.FAILED, note=error, kind=claimed.kind)
        try:
            result, lost = await self._supervise(claimed, kind)
        except UpstreamBanned as ban:
            run_at = ban.retry_at + self._rng.uniform(0, self.policy.ban_jitter)
            return await self._defer(claimed, run_at, str(ban))
        except SlotTimeout as busy:
            run_at = self.clock.time() + busy.retry_after * (1 + self._jitter())
            return await self._defer(claimed, run_at, str(busy))
        except RunLater as later:
            return await self._defer(claimed, later.retry_at, later.reason)
        except Exception as error:
            return await self._retry_or_fail(claimed, error)
        if lost:
            return RunOutcome(job_id, None, note="lost to a newer attempt")
        if not await self.store.succeeded(
            job_id, claimed.attempts, result, now=now_utc(self.clock)
        ):
            return RunOutcome(job_id, None, note="lost to a newer attempt")
        return RunOutcome(job_id, JobStatus.SUCCEEDED, kind=claimed.kind)

    async def _supervise(self, job: JobRecord, kind: JobKind) -> tuple[Any, bool]:
        """The service's result, and whether the job was lost to the reaper meanwhile."""
        work = asyncio.create_task(self._work(job, kind), name=f"job {job.id}")
        beat = asyncio.create_task(self._beat(job, work), name=f"heartbeat {job.id}")
        try:
            return await work, False
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled (shutdown): the reaper will re-run the job
            return None, True  # the heartbeat cancelled the work
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _work(self, job: JobRecord, kind: JobKind) -> Any:
        if kind.per_user and job.user_id is not None and self.users is not None:
            async with self.users.slot(job.user_id):
                return await kind.handler(job)
        return await kind.handler(job)

    async def _beat(self, job: JobRecord, work: asyncio.Task[Any]) -> None:
        while not work.done():
            await asyncio.sleep(self.heartbeat_interval)
            try:
                alive = await self.store.heartbeat(job.id, job.attempts, now=now_utc(self.clock))
            except Exception:  # a missed beat is not a lost job; the next one may get through
                log.warning("heartbeat of job %s failed", job.id, exc_info=True)
                continue
            if not alive:
                log.warning("job %s attempt %d was taken over; cancelling", job.id, job.attempts)
                work.cancel()
                return

    async def _defer(self, job: JobRecord, run_at: float, reason: str) -> RunOutcome:
        when = datetime.fromtimestamp(run_at, UTC)
        now = now_utc(self.clock)
        if not await self.store.deferred(job.id, job.attempts, reason, run_at=when, now=now):
            return RunOutcome(job.id, None, note="lost to a newer attempt")
        log.info("job %s deferred to %s: %s", job.id, when.isoformat(), reason)
        await self.dispatcher.dispatch(job, eta=when)
        return RunOutcome(job.id, JobStatus.DEFERRED, when, reason, job.kind)

    async def _retry_or_fail(self, job: JobRecord, error: Exception) -> RunOutcome:
        message = f"{type(error).__name__}: {error}"
        now = now_utc(self.clock)
        if isinstance(error, self.fatal) or job.attempts >= job.max_attempts:
            log.error("job %s (%s) failed: %s", job.id, job.kind, message, exc_info=error)
            await self.store.failed(job.id, job.attempts, message, now=now)
            return RunOutcome(job.id, JobStatus.FAILED, note=message, kind=job.kind)
        delay = self.policy.delay(job.attempts) * (1 + self._jitter())
        run_at = now + timedelta(seconds=delay)
        if not await self.store.retrying(job.id, job.attempts, message, run_at=run_at, now=now):
            return RunOutcome(job.id, None, note="lost to a newer attempt")
        log.warning("job %s attempt %d: %s; retry at %s", job.id, job.attempts, message, run_at)
        await self.dispatcher.dispatch(job, priority=Priority.LOW, eta=run_at)
        return RunOutcome(job.id, JobStatus.RETRYING, run_at, message, job.kind)

    def _jitter(self) -> float:
        return self._rng.uniform(0, self.policy.jitter) if self.policy.jitter else 0.0


def register_tasks(
    queues: JobQueues,
    bridge: LoopBridge,
    runner: JobRunner,
    *,
    retries: int = 3,
    retry_delay: float = 30.0,
    metrics: JobMetrics | None = None,
) -> None:
    """Register `run_job` on every queue. Huey's own `retries` cover only failures of the runner
    itself (the job store unreachable): the job's errors are the runner's to retry."""

    def run_job(job_id: str) -> None:
        # Thin on purpose: the service runs on the process's loop, the outcome is in the row.
        started = time.monotonic()
        outcome = bridge.run(lambda: runner.run(job_id))
        log.debug("job %s: %s %s", job_id, outcome.status, outcome.note)
        if metrics is not None and outcome.kind is not None:
            metrics.outcome(outcome.kind, outcome.status, time.monotonic() - started)

    queues.register(run_job, retries=retries, retry_delay=retry_delay)
