"""`background_jobs`: one row per job, the truth a queue message only points at.

At most one *active* job per `dedupe_key`: a partial unique index over the active statuses
(Postgres and SQLite both have them). Inserting a second active job with the same key raises
IntegrityError, atomically, whatever the number of API processes; finished jobs keep their key
and never block a new one. The jobs layer sets `dedupe_key` to e.g. `"<kind>:<user_id>"` for
"one active job per user and kind", or leaves it NULL for jobs that may run side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, column
from sqlalchemy.orm import Mapped, mapped_column

from backbeat.db.models.base import Base, one_of
from backbeat.db.models.types import JSONType, new_id, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "retrying", "deferred")
ACTIVE_JOB_STATUSES = ("queued", "running", "retrying", "deferred")
FINISHED_JOB_STATUSES = ("succeeded", "failed")

_active = column("status").in_(ACTIVE_JOB_STATUSES)


class BackgroundJob(Base):
    __tablename__ = "background_jobs"
    __table_args__ = (
        Index(
            "uq_background_jobs_active_dedupe_key",
            "dedupe_key",
            unique=True,
            postgresql_where=_active,
            sqlite_where=_active,
        ),
        # Due jobs to dispatch; stale heartbeats for the reaper; finished jobs to purge/report.
        Index("ix_background_jobs_status_run_at", "status", "run_at"),
        Index("ix_background_jobs_status_heartbeat_at", "status", "heartbeat_at"),
        Index("ix_background_jobs_status_finished_at", "status", "finished_at"),
        Index("ix_background_jobs_user_id_kind", "user_id", "kind"),
        one_of("status", JOB_STATUSES),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE")
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, doc="0 HIGH, 1 NORMAL, 2 LOW")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=4)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[Any | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text, doc="the last error, or why it was deferred")
    run_at: Mapped[datetime] = mapped_column(default=utcnow, doc="not to start before")
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
