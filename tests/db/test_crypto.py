"""Spotify tokens at rest: encrypted, readable across key rotation, refused without keys."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from backbeat.config import DatabaseSettings, SecuritySettings, Settings
from backbeat.db import migrations
from backbeat.db.crypto import TokenCipher, UndecryptableToken, rotate
from backbeat.db.engine import Database, create_bare_engine, create_engine, open_database
from backbeat.db.models import Base, SpotifyToken, User
from backbeat.errors import ConfigurationError

EXPIRES = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


async def _store(database: Database, spotify_id: str, access: str, refresh: str) -> str:
    async with database.sessions() as session, session.begin():
        user = User(spotify_id=spotify_id)
        session.add(user)
        await session.flush()
        session.add(
            SpotifyToken(
                user_id=user.id, access_token=access, refresh_token=refresh, expires_at=EXPIRES
            )
        )
    return user.id


async def _raw(database: Database) -> dict[str, tuple[str, str]]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT user_id, access_token, refresh_token FROM spotify_tokens")
        )
        return {user_id: (access, refresh) for user_id, access, refresh in rows}


async def _tokens(database: Database) -> dict[str, tuple[str, str]]:
    async with database.sessions() as session:
        tokens = await session.scalars(select(SpotifyToken))
        return {token.user_id: (token.access_token, token.refresh_token) for token in tokens}


def _with_keys(settings: Settings, *keys: str) -> Settings:
    return settings.model_copy(update={"security": SecuritySettings(token_keys=list(keys))})


async def test_tokens_are_stored_encrypted_and_read_back(
    database: Database, token_key: str
) -> None:
    user_id = await _store(database, "alice", "BQD-access", "AQC-refresh")
    access, refresh = (await _raw(database))[user_id]
    assert "BQD-access" not in access
    assert "AQC-refresh" not in refresh
    assert Fernet(token_key).decrypt(access.encode()) == b"BQD-access"
    async with database.sessions() as session:
        token = await session.get_one(SpotifyToken, user_id)
        assert (token.access_token, token.refresh_token) == ("BQD-access", "AQC-refresh")
        assert token.expires_at == EXPIRES


async def test_a_new_key_reads_old_rows_and_rotate_reencrypts_them(
    database: Database, settings: Settings, token_key: str
) -> None:
    old_user = await _store(database, "alice", "old-access", "old-refresh")
    new_key = Fernet.generate_key().decode()

    async with open_database(_with_keys(settings, new_key, token_key)) as rotated:
        new_user = await _store(rotated, "bob", "new-access", "new-refresh")
        assert await _tokens(rotated) == {
            old_user: ("old-access", "old-refresh"),
            new_user: ("new-access", "new-refresh"),
        }
        before = await _raw(rotated)
        assert Fernet(new_key).decrypt(before[new_user][0].encode()) == b"new-access"

        assert await rotate(rotated.engine, Base.metadata) == 2  # alice's two values only
        after = await _raw(rotated)
        assert after[new_user] == before[new_user]
        assert after[old_user] != before[old_user]
        assert await rotate(rotated.engine, Base.metadata) == 0

    # The old key can now be retired.
    async with open_database(_with_keys(settings, new_key)) as retired:
        assert await _tokens(retired) == {
            old_user: ("old-access", "old-refresh"),
            new_user: ("new-access", "new-refresh"),
        }


async def test_a_token_no_configured_key_opens_is_reported(
    database: Database, settings: Settings
) -> None:
    await _store(database, "alice", "access", "refresh")
    async with open_database(_with_keys(settings, Fernet.generate_key().decode())) as other:
        with pytest.raises(UndecryptableToken):
            await _tokens(other)


@pytest.mark.parametrize("environment", ["production", "test"])
def test_outside_development_no_key_refuses_to_start(environment: str) -> None:
    settings = Settings(
        environment=environment, database=DatabaseSettings(url="sqlite://"), security={}
    )
    with pytest.raises(ConfigurationError) as raised:
        create_engine(settings)
    assert raised.value.setting == "security.token_keys"
    assert "BACKBEAT_SECURITY__TOKEN_KEYS" in str(raised.value)


def test_in_development_an_ephemeral_key_is_generated_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(environment="development", security={})
    with caplog.at_level(logging.WARNING, logger="backbeat.db.crypto"):
        first, second = TokenCipher.from_settings(settings), TokenCipher.from_settings(settings)
    assert len([r for r in caplog.records if "token_keys is empty" in r.getMessage()]) == 2
    assert first.decrypt(first.encrypt("secret")) == "secret"
    with pytest.raises(UndecryptableToken):  # another process (or run) has another key
        second.decrypt(first.encrypt("secret"))


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        TokenCipher(["not-a-fernet-key-but-a-secret"])
    assert "not-a-fernet-key-but-a-secret" not in str(raised.value)


def test_token_keys_come_from_one_variable_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    for value in (f"{new},{old}", f'["{new}", "{old}"]', f" {new} , {old} "):
        monkeypatch.setenv("BACKBEAT_SECURITY__TOKEN_KEYS", value)
        keys = Settings().security.token_keys
        assert [key.get_secret_value() for key in keys] == [new, old]
        assert new not in repr(Settings())


async def test_an_engine_without_a_cipher_cannot_write_tokens(settings: Settings) -> None:
    engine = create_bare_engine(settings.database)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(User.__table__.insert().values(id="u", spotify_id="s"))
            with pytest.raises(StatementError) as raised:
                await connection.execute(
                    SpotifyToken.__table__.insert().values(
                        user_id="u", access_token="a", refresh_token="r", expires_at=EXPIRES
                    )
                )
        assert isinstance(raised.value.orig, ConfigurationError)
    finally:
        await engine.dispose()
