"""Spotify tokens at rest: Fernet encryption with key rotation (`MultiFernet`).

Keys come from `security.token_keys`, newest first: values are encrypted with the newest and
decrypted with any, so adding a key in front never makes stored rows unreadable, and `rotate()`
re-encrypts them with the newest before an old key is retired.

The cipher lives on the engine's dialect, installed by `backbeat.db.engine.create_engine`:
the column type gets it with every value, and no module holds settings or keys.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, MetaData, Text, column, select, table, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

from backbeat.config import Settings
from backbeat.errors import BackbeatError, ConfigurationError

log = logging.getLogger(__name__)

_DIALECT_ATTRIBUTE = "backbeat_token_cipher"


class UndecryptableToken(BackbeatError):
    """A stored value none of the configured keys opens (a key retired too early, or the
    ephemeral development key of an earlier run): the user has to log in again."""

    def __init__(self) -> None:
        super().__init__("a stored token cannot be decrypted with any configured key")


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("security.token_keys", "at least one Fernet key is needed")
        try:
            self._fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError):
            # The message must not echo the key.
            raise ConfigurationError(
                "security.token_keys",
                "each key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())",
            ) from None
        self._multi = MultiFernet(self._fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        """The configured keys; in development only, an ephemeral key when none is set."""
        keys = [key.get_secret_value() for key in settings.security.token_keys]
        if keys:
            return cls(keys)
        if settings.environment != "development":
            raise ConfigurationError(
                "security.token_keys",
                f"no key to encrypt Spotify tokens with in {settings.environment}; set "
                "BACKBEAT_SECURITY__TOKEN_KEYS to a key from "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`",
            )
        log.warning(
            "security.token_keys is empty: tokens are encrypted with a key that lives only in "
            "this process; they cannot be read after a restart or by another process"
        )
        return cls([Fernet.generate_key().decode()])

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            raise UndecryptableToken() from None

    def is_current(self, token: str) -> bool:
        """Whether the newest key encrypted `token` (so rotating it would change nothing)."""
        try:
            self._fernets[0].decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """`token` encrypted with the newest key (its original timestamp kept)."""
        try:
            return self._multi.rotate(token.encode()).decode()
        except InvalidToken:
            raise UndecryptableToken() from None


def install_cipher(engine: AsyncEngine, cipher: TokenCipher) -> None:
    setattr(engine.sync_engine.dialect, _DIALECT_ATTRIBUTE, cipher)


def engine_cipher(dialect: Dialect) -> TokenCipher:
    cipher = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    if not isinstance(cipher, TokenCipher):
        raise ConfigurationError(
            "security.token_keys",
            "this engine has no token cipher; build it with backbeat.db.engine.create_engine",
        )
    return cipher


class EncryptedText(TypeDecorator[str]):
    """Text encrypted with the engine's `TokenCipher`. Each write gives a different ciphertext,
    so such columns cannot be compared or searched in SQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else engine_cipher(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else engine_cipher(dialect).decrypt(value)


async def rotate(engine: AsyncEngine, metadata: MetaData) -> int:
    """Re-encrypt every `EncryptedText` value of `metadata`'s tables not yet under the newest
    key; returns how many values changed. The order: give every process the new key first
    (in front), then rotate, then retire the old key. Safe to run again and beside running
    processes: a value that changed since it was read is left alone (it has the new key)."""
    cipher = engine_cipher(engine.sync_engine.dialect)
    changed = 0
    async with engine.begin() as connection:
        for source in metadata.sorted_tables:
            encrypted = [c.name for c in source.columns if isinstance(c.type, EncryptedText)]
            if not encrypted:
                continue
            keys = [c.name for c in source.primary_key.columns]
            # A lightweight view of the table with the encrypted columns as plain text.
            columns = [*(column(n) for n in keys), *(column(n, Text) for n in encrypted)]
            raw = table(source.name, *columns, schema=source.schema)
            for row in (await connection.execute(select(raw))).mappings().all():
                values = {
                    name: cipher.rotate(row[name])
                    for name in encrypted
                    if row[name] is not None and not cipher.is_current(row[name])
                }
                if not values:
                    continue
                # Compare-and-set: the key columns and the ciphertexts as they were read.
                where = [raw.c[name] == row[name] for name in [*keys, *values]]
                result = await connection.execute(update(raw).where(*where).values(values))
                changed += len(values) if result.rowcount else 0
    return changed
