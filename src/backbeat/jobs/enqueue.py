"""`Enqueuer`: create a job's row, then hand it to its queue.

- One active job per dedupe key — by default per user and kind (`kind:user`), so a second
  request returns the job already queued or running. A more urgent request for a job still
  queued promotes it (a manual "scan now" does not wait behind tonight's spread-out scan): the row
  takes the new priority and a second message is sent; whichever message arrives first runs it
  and the other finds it running or done.
- `enqueue_batch` spreads a fan-out over the window the budget needs, calls per job * jobs /
  rate, instead of a fixed stagger: 1000 users x 30 calls at 1.33 calls/s (half of 80 per 30 s)
  take 6.25 h, and the same code spreads 10 users over under 4 min.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backbeat.clock import Clock, SystemClock
from backbeat.jobs.lifecycle import (
    Dispatcher,
    JobKind,
    JobRecord,
    JobStatus,
    JobStore,
    NewJob,
    UnknownJobKind,
    now_utc,
)
from backbeat.ratelimit import Priority

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Enqueued:
    job: JobRecord
    created: bool  # False: an active job with the same dedupe key was returned instead


def spread_interval(calls_per_job: float, rate_per_second: float) -> float:
    """Seconds between two jobs' starts so that the fan-out stays within `rate_per_second`."""
    if calls_per_job <= 0 or rate_per_second <= 0:
        raise ValueError("calls_per_job and rate_per_second must be positive")
    return calls_per_job / rate_per_second


class Enqueuer:
    def __init__(
        self,
        store: JobStore,
        dispatcher: Dispatcher,
        kinds: Mapping[str, JobKind],
        *,
        max_attempts: int = 4,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.kinds = kinds
        self.max_attempts = max_attempts
        self.clock: Clock = clock or SystemClock()

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        priority: Priority = Priority.NORMAL,
        dedupe: bool | str = True,
        run_at: datetime | None = None,
    ) -> Enqueued:
        """Queue a job of `kind`. `dedupe`: True for one active job per (kind, user), a string
        for a key of your own (e.g. one leaderboard job per artist), False for none."""
        spec = self.kinds.get(kind)
        if spec is None:
            raise UnknownJobKind(kind)
        now = now_utc(self.clock)
        new = NewJob(
            kind=kind,
            queue=spec.queue,
            payload=dict(payload or {}),
            user_id=user_id,
            priority=priority,
            dedupe_key=_dedupe_key(kind, user_id, dedupe),
            max_attempts=self.max_attempts,
            run_at=run_at,
        )
        job, created = await self.store.create(new, now=now)
        if not created:
            return Enqueued(await self._maybe_promote(job, priority, run_at or now), False)
        eta = job.run_at if job.run_at > now else None
        try:
            await self.dispatcher.dispatch(job, eta=eta)
        except Exception as error:
            # No message means no run: the row must not stay active and block its dedupe key.
            await self.store.failed(
                job.id, 0, f"could not enqueue: {error}", now=now_utc(self.clock)
            )
            raise
        return Enqueued(job, True)

    async def enqueue_batch(
        self,
        user_ids: Iterable[str],
        kind: str,
        *,
        calls_per_job: float,
        rate_per_second: float,
        payload: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        start: datetime | None = None,
        dedupe: Callable[[str], str] | None = None,
    ) -> list[Enqueued]:
        """One job per user, started `calls_per_job / rate_per_second` apart from `start` (now).
        Users that already have an active job of this kind (with the key `dedupe(user)` gives,
        by default the kind's) keep it and take no place in the spread."""
        interval = timedelta(seconds=spread_interval(calls_per_job, rate_per_second))
        at = start or now_utc(self.clock)
        results: list[Enqueued] = []
        for user_id in user_ids:
            key: bool | str = True if dedupe is None else dedupe(user_id)
            result = await self.enqueue(
                kind, payload, user_id=user_id, priority=priority, dedupe=key, run_at=at
            )
            results.append(result)
            if result.created:
                at += interval
        created = sum(result.created for result in results)
        log.info(
            "enqueued %d %s jobs (%d already active) over %.0f s",
            created,
            kind,
            len(results) - created,
            created * interval.total_seconds(),
        )
        return results

    async def _maybe_promote(
        self, job: JobRecord, priority: Priority, run_at: datetime
    ) -> JobRecord:
        if job.status is not JobStatus.QUEUED or priority >= job.priority:
            return job
        promoted = await self.store.promote(
            job.id, priority, run_at=run_at, now=now_utc(self.clock)
        )
        if promoted is None:  # it started meanwhile
            return job
        eta = run_at if run_at > now_utc(self.clock) else None
        await self.dispatcher.dispatch(promoted, eta=eta)
        return promoted


def _dedupe_key(kind: str, user_id: str | None, dedupe: bool | str) -> str | None:
    if isinstance(dedupe, str):
        return f"{kind}:{dedupe}"
    if not dedupe:
        return None
    return f"{kind}:{user_id}" if user_id is not None else kind
