"""Data: SQLAlchemy 2 async models, engines built from settings, Alembic migrations.

SQLite (aiosqlite) by default, Postgres (asyncpg) when the URL says so. Tables are in
`backbeat.db.models`; migrations in `backbeat.db.migrations` (`backbeat migrate`).
"""

from backbeat.db.crypto import EncryptedText, TokenCipher, UndecryptableToken, rotate
from backbeat.db.engine import (
    Database,
    create_bare_engine,
    create_engine,
    open_database,
    session_factory,
)

__all__ = [
    "Database",
    "EncryptedText",
    "TokenCipher",
    "UndecryptableToken",
    "create_bare_engine",
    "create_engine",
    "open_database",
    "rotate",
    "session_factory",
]
