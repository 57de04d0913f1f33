"""`backbeat keys rotate`: tokens stored under an old key end up under the new one, and the old
key can then be dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from backbeat.cli.main import app
from backbeat.clock import FakeClock
from backbeat.config import DatabaseSettings, SecuritySettings, Settings
from backbeat.db import migrations
from backbeat.db.engine import open_database
from backbeat.db.models import User
from backbeat.domain.accounts import DatabaseUserTokens
from backbeat.spotify.auth import AccessToken


def settings_with(url: str, *keys: str) -> Settings:
    return Settings(
        environment="test",
        database=DatabaseSettings(url=url),
        security=SecuritySettings(token_keys=list(keys)),
    )


async def test_rotation_moves_every_token_to_the_new_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    clock = FakeClock()
    async with open_database(settings_with(url, old)) as database:
        await migrations.upgrade(database.engine)
        async with database.sessions() as session, session.begin():
            session.add(User(id="u1", spotify_id="listener"))
        await DatabaseUserTokens(database, clock).save(
            "u1", AccessToken("access", clock.time() + 60, "refresh")
        )

    monkeypatch.setenv("BACKBEAT_ENVIRONMENT", "test")
    monkeypatch.setenv("BACKBEAT_DATABASE__URL", url)
    monkeypatch.setenv("BACKBEAT_SECURITY__TOKEN_KEYS", f"{new},{old}")
    # The command runs its own event loop: off this test's loop.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "2 stored values re-encrypted" in result.output

    async with open_database(settings_with(url, new)) as database:  # the old key is gone
        token = await DatabaseUserTokens(database, clock).load("u1")
    assert token is not None
    assert (token.value, token.refresh_token) == ("access", "refresh")

    again = await asyncio.to_thread(CliRunner().invoke, app, ["keys", "rotate"])
    assert "0 stored values re-encrypted" in again.output


def test_rotation_without_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKBEAT_SECURITY__TOKEN_KEYS", raising=False)
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 2
    assert "nothing to rotate to" in result.output
