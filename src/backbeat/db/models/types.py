"""Column types every model shares: aware UTC timestamps, JSON that is JSONB on Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

# JSONB on Postgres: indexable and compared by value; plain JSON (text) on SQLite.
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone reached the database: its meaning would be a guess."""

    def __init__(self, value: datetime) -> None:
        super().__init__(f"naive datetime {value.isoformat()} refused; pass an aware UTC datetime")
        self.value = value


class UTCDateTime(TypeDecorator[datetime]):
    """`TIMESTAMP WITH TIME ZONE` that stores UTC and reads back aware UTC on every backend.

    SQLite keeps no offset, so values are converted to UTC before they are written and marked
    UTC when read; naive values are refused rather than assumed to be local or UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Default for timestamp columns; services that own a `Clock` pass their own time instead."""
    return datetime.now(UTC)


def new_id() -> str:
    """Primary key of rows the API names (users, jobs, sessions…): unguessable, backend-neutral."""
    return str(uuid.uuid4())
