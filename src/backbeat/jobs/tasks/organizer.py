"""Organizer jobs: one user's scan of liked songs into playlists (spotify queue), and the
02:00 UTC fan-out over every enabled user, spread over the window the plan computes from the
calls per user and the limits — not a fixed stagger."""

from __future__ import annotations

from typing import Any

from backbeat.domain.organizer import enabled_user_ids, fan_out_plan
from backbeat.jobs.lifecycle import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext
from backbeat.jobs.tasks.context import services_of
from backbeat.ratelimit import Priority

ORGANIZE = "organize_library"


def contribute(context: JobContext) -> Contribution:
    services = services_of(context)
    settings = context.settings

    async def organize(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        result = await services.organizer.run(job.user_id, job.priority)
        return result.as_json()

    async def organize_all_users() -> int:
        users = await enabled_user_ids(services.database)
        if not users:
            return 0
        plan = fan_out_plan(len(users), settings.ratelimit, share=settings.organizer.budget_share)
        # One user's calls of the binding class take `scan_window_s / users` at its rate.
        binding = next(c for c in plan.classes if c.op_class == plan.binding_class)
        enqueued = await context.enqueuer.enqueue_batch(
            users,
            ORGANIZE,
            calls_per_job=binding.calls_per_user,
            rate_per_second=binding.usable / binding.period_s,
            priority=Priority.NORMAL,
        )
        return sum(result.created for result in enqueued)

    return Contribution(
        kinds=[JobKind(ORGANIZE, "spotify", organize)],
        cron={"organize_all_users": organize_all_users},
    )
