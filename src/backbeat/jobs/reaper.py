"""`Reaper`: gives the jobs of dead workers back to the queues.

Huey delivers a message at most once: a worker killed mid-job takes the message with it, and
the job's row stays `running`. Its heartbeat stops, though, so a row running with a heartbeat
older than `stale_after` belongs to a dead (or hopelessly stuck) worker: the reaper moves it to
`retrying` and sends a new message, or fails it when its attempts are spent (a job that kills
its worker every time must not loop forever). The move is fenced by the attempt number, so a
worker that was only slow finds its job taken at its next beat and stops. Handlers are
idempotent (unique keys, upserts), so running the job again writes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from backbeat.clock import Clock, SystemClock
from backbeat.config import JobsSettings
from backbeat.jobs.lifecycle import Dispatcher, JobRecord, JobStore, now_utc

log = logging.getLogger(__name__)


class Reaper:
    def __init__(
        self,
        store: JobStore,
        dispatcher: Dispatcher,
        *,
        stale_after: float = 90.0,
        overdue_after: float = 3600.0,
        batch: int = 500,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.stale_after = stale_after
        self.overdue_after = overdue_after
        self.batch = batch
        self.clock: Clock = clock or SystemClock()

    @classmethod
    def from_settings(
        cls, jobs: JobsSettings, store: JobStore, dispatcher: Dispatcher, clock: Clock | None = None
    ) -> Reaper:
        return cls(
            store,
            dispatcher,
            stale_after=jobs.stale_after,
            overdue_after=jobs.overdue_after,
            clock=clock,
        )

    async def run_once(self) -> list[JobRecord]:
        """Re-enqueue (or fail) every stale running job; return the jobs it re-enqueued."""
        now = now_utc(self.clock)
        before = now - timedelta(seconds=self.stale_after)
        stale = await self.store.stale_running(heartbeat_before=before, limit=self.batch)
        requeued: list[JobRecord] = []
        for job in stale:
            since = (job.heartbeat_at or job.enqueued_at).isoformat()
            error = f"worker lost: no heartbeat since {since} (attempt {job.attempts})"
            if job.attempts >= job.max_attempts:
                if await self.store.failed(job.id, job.attempts, error, now=now):
                    log.error("job %s (%s) failed: %s", job.id, job.kind, error)
                continue
            if not await self.store.retrying(job.id, job.attempts, error, run_at=now, now=now):
                continue  # it beat or finished meanwhile
            # A dead worker is not the job's fault: it keeps its priority.
            await self.dispatcher.dispatch(job)
            log.warning("job %s (%s) re-enqueued: %s", job.id, job.kind, error)
            requeued.append(job)
        return requeued + await self._resend_overdue(now)

    async def _resend_overdue(self, now: datetime) -> list[JobRecord]:
        """Waiting jobs long past their start: their message was lost (Redis lost its data, or
        a send failed after the row changed). Sending another is harmless — a message only
        points at the row — and without it the job, and its dedupe key, would wait forever."""
        before = now - timedelta(seconds=self.overdue_after)
        resent: list[JobRecord] = []
        for job in await self.store.overdue(run_before=before, limit=self.batch):
            fresh = await self.store.resent(job.id, now=now)
            if fresh is None:
                continue  # it started meanwhile
            await self.dispatcher.dispatch(fresh)
            since = job.run_at.isoformat()
            log.warning("job %s (%s) waiting since %s: sent again", job.id, job.kind, since)
            resent.append(fresh)
        return resent
