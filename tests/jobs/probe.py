"""A job kind for the process proofs, loaded by real `backbeat serve` / `worker` processes
through `BACKBEAT_JOBS__PLUGINS='["tests.jobs.probe:contribute"]'` (PYTHONPATH = the checkout).

A probe job writes like a real ingest: it notes that it started (one line per execution in
`payload["log"]`), upserts its user's snapshot for the day (unique user + date + time range),
then, on its first attempt only, holds for `payload["hold_first"]` seconds — long enough to be
killed after its write.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from backbeat.db.models import ListeningSnapshot
from backbeat.db.upsert import upsert
from backbeat.jobs import JobKind, JobRecord
from backbeat.jobs.runtime import Contribution, JobContext

PROBE_DATE = date(2026, 12, 2)


def contribute(context: JobContext) -> Contribution:
    async def probe(job: JobRecord) -> dict[str, Any]:
        await asyncio.to_thread(_note, Path(job.payload["log"]), f"{job.id} {job.attempts}\n")
        async with context.database.sessions() as session, session.begin():
            await upsert(
                session,
                ListeningSnapshot,
                {
                    "user_id": job.user_id,
                    "snapshot_date": PROBE_DATE,
                    "time_range": "short_term",
                    "track_count": job.attempts,
                },
                key=("user_id", "snapshot_date", "time_range"),
            )
        if job.attempts == 1:
            await asyncio.sleep(float(job.payload.get("hold_first", 0)))
        return {"user": job.user_id, "attempt": job.attempts}

    return Contribution(kinds=[JobKind("probe", "default", probe)])


def _note(path: Path, line: str) -> None:
    with path.open("a") as log:
        log.write(line)
