"""Insights for a user's snapshot: load it (theirs only), reuse a stored insight when one fits,
else have the provider write one and store it with what wrote it and how long it took.

The cache is the `generated_insights` table itself: an insight is reused when snapshot, type,
tone, provider, model and prompt version all match and it was written after the snapshot's last
update (re-ingesting a day rewrites that day's snapshot in place, so an older insight describes
numbers that no longer exist). Within a process, identical requests wait for each other instead
of paying for the same generation twice; across processes two may race and both be stored, which
costs one extra call, not correctness (the oldest one is returned afterwards).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backbeat.clock import Clock
from backbeat.db.engine import Database
from backbeat.db.models import TIME_RANGES, GeneratedInsight, ListeningSnapshot, new_id
from backbeat.domain.insights.errors import InsightNotFound, InvalidInsightRequest, SnapshotNotFound
from backbeat.domain.insights.facts import SnapshotFacts
from backbeat.domain.insights.prompts import PromptSpec, resolve
from backbeat.domain.insights.provider import InsightProvider


@dataclass(frozen=True, slots=True)
class StoredInsight:
    id: str
    user_id: str
    snapshot_id: str | None  # None once the snapshot was pruned
    insight_type: str
    tone: str
    provider: str
    model: str
    prompt_version: str
    content: dict[str, Any]
    generation_ms: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: GeneratedInsight) -> StoredInsight:
        return cls(
            id=row.id,
            user_id=row.user_id,
            snapshot_id=row.snapshot_id,
            insight_type=row.insight_type,
            tone=row.tone,
            provider=row.provider,
            model=row.model,
            prompt_version=row.prompt_version,
            content=dict(row.content),
            generation_ms=row.generation_ms,
            created_at=row.created_at,
        )


class InsightService:
    def __init__(self, database: Database, provider: InsightProvider, clock: Clock) -> None:
        self.database = database
        self.provider = provider
        self.clock = clock
        # Held only while someone waits on it: the dictionary empties itself.
        self._locks: weakref.WeakValueDictionary[tuple[str, ...], asyncio.Lock]
        self._locks = weakref.WeakValueDictionary()

    async def generate(
        self, user_id: str, snapshot_id: str, insight_type: str, tone: str | None = None
    ) -> str:
        """The id of an insight of `insight_type` in `tone` (the type's default when None) for
        the user's snapshot: a stored one when it fits, else a newly generated one. Raises
        `InvalidInsightRequest`, `SnapshotNotFound` or the provider's `InsightGenerationFailed`."""
        spec, tone = resolve(insight_type, tone)
        key = (user_id, snapshot_id, spec.insight_type, tone)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            return await self._generate(user_id, snapshot_id, spec, tone)

    async def _generate(self, user_id: str, snapshot_id: str, spec: PromptSpec, tone: str) -> str:
        # Taken before the snapshot is read: an update during generation makes this one stale.
        created_at = datetime.fromtimestamp(self.clock.time(), UTC)
        async with self.database.sessions() as session:
            snapshot = await self._snapshot(session, user_id, snapshot_id)
            cached = await session.scalar(
                select(GeneratedInsight.id)
                .where(
                    GeneratedInsight.snapshot_id == snapshot.id,
                    GeneratedInsight.insight_type == spec.insight_type,
                    GeneratedInsight.tone == tone,
                    GeneratedInsight.provider == self.provider.name,
                    GeneratedInsight.model == self.provider.model,
                    GeneratedInsight.prompt_version == spec.version,
                    GeneratedInsight.created_at >= snapshot.updated_at,
                )
                .order_by(GeneratedInsight.created_at, GeneratedInsight.id)
                .limit(1)
            )
            if cached is not None:
                return cached
            facts = SnapshotFacts.from_row(snapshot)
        # No session is held while the provider works: a slow model must not pin a connection.
        started = self.clock.monotonic()
        output, model = await self.provider.generate(spec.insight_type, tone, facts)
        elapsed_ms = max(0, round((self.clock.monotonic() - started) * 1000))
        row = GeneratedInsight(
            id=new_id(),
            user_id=user_id,
            snapshot_id=snapshot.id,
            insight_type=spec.insight_type,
            tone=tone,
            provider=self.provider.name,
            model=model,
            prompt_version=spec.version,
            content=output.model_dump(mode="json"),
            generation_ms=elapsed_ms,
            created_at=created_at,
        )
        async with self.database.sessions() as session, session.begin():
            session.add(row)
        return row.id

    async def get(self, user_id: str, insight_id: str) -> StoredInsight:
        async with self.database.sessions() as session:
            row = await session.scalar(
                select(GeneratedInsight).where(
                    GeneratedInsight.id == insight_id, GeneratedInsight.user_id == user_id
                )
            )
        if row is None:
            raise InsightNotFound(insight_id)
        return StoredInsight.from_row(row)

    async def recent(
        self, user_id: str, *, insight_type: str | None = None, limit: int = 50
    ) -> list[StoredInsight]:
        """The user's insights, newest first."""
        query = select(GeneratedInsight).where(GeneratedInsight.user_id == user_id)
        if insight_type is not None:
            query = query.where(GeneratedInsight.insight_type == insight_type)
        query = query.order_by(GeneratedInsight.created_at.desc()).limit(limit)
        async with self.database.sessions() as session:
            return [StoredInsight.from_row(row) for row in await session.scalars(query)]

    async def latest_snapshot(
        self, user_id: str, time_range: str | None = None
    ) -> SnapshotFacts | None:
        """The user's most recent snapshot (of `time_range`, else of any), for jobs such as the
        weekly summary that start from a user rather than a snapshot."""
        if time_range is not None and time_range not in TIME_RANGES:
            raise InvalidInsightRequest("time_range", time_range, TIME_RANGES)
        query = select(ListeningSnapshot).where(ListeningSnapshot.user_id == user_id)
        if time_range is not None:
            query = query.where(ListeningSnapshot.time_range == time_range)
        query = query.order_by(
            ListeningSnapshot.snapshot_date.desc(),
            ListeningSnapshot.updated_at.desc(),
            ListeningSnapshot.id,
        ).limit(1)
        async with self.database.sessions() as session:
            row = await session.scalar(query)
        return SnapshotFacts.from_row(row) if row is not None else None

    @staticmethod
    async def _snapshot(session: AsyncSession, user_id: str, snapshot_id: str) -> ListeningSnapshot:
        snapshot = await session.scalar(
            select(ListeningSnapshot).where(
                ListeningSnapshot.id == snapshot_id, ListeningSnapshot.user_id == user_id
            )
        )
        if snapshot is None:
            raise SnapshotNotFound(snapshot_id)
        return snapshot
