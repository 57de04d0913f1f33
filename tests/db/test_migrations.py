"""The migrations build exactly the models' schema, and take it down again, on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from backbeat.cli.main import app
from backbeat.config import Settings
from backbeat.db import migrations
from backbeat.db.engine import create_bare_engine
from backbeat.db.models import ACTIVE_JOB_STATUSES, Base

TABLES = {
    "users",
    "app_sessions",
    "spotify_tokens",
    "listening_snapshots",
    "generated_insights",
    "background_jobs",
    "songs",
    "ranking_sessions",
    "session_songs",
    "comparisons",
    "session_rankings",
    "artist_leaderboards",
    "artist_leaderboard_entries",
    "organizer_scan_states",
    "organizer_playlists",
    "organizer_playlist_tracks",
}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _active_dedupe_index(connection: Connection) -> tuple[bool, list[str | None], str]:
    # compare_metadata ignores partial indexes' WHERE clauses: read the index back instead.
    index = next(
        i
        for i in inspect(connection).get_indexes("background_jobs")
        if i["name"] == "uq_background_jobs_active_dedupe_key"
    )
    options = index.get("dialect_options", {})
    where = options.get("postgresql_where") or options.get("sqlite_where")
    return index["unique"], index["column_names"], str(where)


def test_every_table_of_the_architecture_is_modelled() -> None:
    assert set(Base.metadata.tables) == TABLES


async def test_upgrade_to_head_matches_the_models_and_downgrade_removes_everything(
    settings: Settings,
) -> None:
    engine = create_bare_engine(settings.database)
    try:
        assert await migrations.current_revision(engine) is None
        await migrations.upgrade(engine)
        assert await migrations.current_revision(engine) == migrations.head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES | {"alembic_version"}
            assert await connection.run_sync(_differences) == []
            unique, columns, where = await connection.run_sync(_active_dedupe_index)
            assert (unique, columns) == (True, ["dedupe_key"])
            assert all(status in where for status in ACTIVE_JOB_STATUSES)
            assert "succeeded" not in where

        await migrations.downgrade(engine, "base")
        assert await migrations.current_revision(engine) is None
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {"alembic_version"}
            missing = await connection.run_sync(_differences)  # the comparison does see tables
            assert {diff[1].name for diff in missing if diff[0] == "add_table"} == TABLES

        await migrations.upgrade(engine)  # and up again from nothing
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def test_backbeat_migrate_upgrades_to_head_and_downgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BACKBEAT_DATABASE__URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    head = migrations.head_revision()
    assert f"var/backbeat.db is at revision {head} (head)" in result.output
    assert (tmp_path / "var" / "backbeat.db").is_file()

    result = runner.invoke(app, ["migrate", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "is at revision base" in result.output

    result = runner.invoke(app, ["migrate", "upgrade", "0001"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("is at revision 0001\n")


def test_backbeat_migrate_reports_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBEAT_DATABASE__URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "cannot migrate postgresql+asyncpg://nobody@127.0.0.1:1/none" in result.output
