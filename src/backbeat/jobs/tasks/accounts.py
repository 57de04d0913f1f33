"""Account jobs: refresh a user's Spotify token, and the 30-minute sweep of tokens that expire
within the next 10 minutes (so a long scan never starts on a token about to die)."""

from __future__ import annotations

from typing import Any

from backbeat.jobs.lifecycle import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext
from backbeat.jobs.tasks.context import services_of

REFRESH = "refresh_token"
EXPIRING_WITHIN = 600.0  # seconds


def contribute(context: JobContext) -> Contribution:
    services = services_of(context)

    async def refresh(job: JobRecord) -> dict[str, Any]:
        assert job.user_id is not None
        token = await services.upstreams.tokens.refresh(job.user_id)
        return {"expires_in": round(token.expires_at - services.clock.time())}

    async def refresh_tokens() -> int:
        created = 0
        for user_id in await services.tokens.expiring(EXPIRING_WITHIN):
            created += (await context.enqueuer.enqueue(REFRESH, {}, user_id=user_id)).created
        return created

    return Contribution(
        kinds=[JobKind(REFRESH, "spotify", refresh, per_user=False)],
        cron={"refresh_tokens": refresh_tokens},
    )
