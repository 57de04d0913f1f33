"""`upsert`: insert a row or update the one holding its unique key, in one statement.

Jobs may run twice (a worker killed after its write, then reaped), so their writes go through
a unique key: the second run updates the row the first wrote instead of adding another. Postgres
and SQLite both spell it `INSERT … ON CONFLICT (…) DO UPDATE`, from different dialect modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def upsert(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert `values` into `model`'s table, or update the columns `update` (default: every
    given column outside `key`) of the row whose columns `key` match."""
    dialect = session.get_bind().dialect.name
    changed = [name for name in (update or values) if name not in key]
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(model).values(**values)
    elif dialect == "sqlite":
        statement = sqlite.insert(model).values(**values)
    else:
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    if changed:
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={name: excluded[name] for name in changed}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    await session.execute(statement)
