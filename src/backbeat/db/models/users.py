"""Users and their Spotify tokens (encrypted at rest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from backbeat.db.crypto import EncryptedText
from backbeat.db.models.base import Base, one_of
from backbeat.db.models.types import JSONType, new_id, utcnow

SESSION_KINDS = ("cookie", "api")


class User(Base):
    """An app user. Deleting one deletes everything of theirs (ON DELETE CASCADE everywhere)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    spotify_id: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    country: Mapped[str | None] = mapped_column(String(2))
    product: Mapped[str | None] = mapped_column(String(32), doc="premium, free, …")
    # Spotify refused the stored refresh token (revoked access, changed password): nothing runs
    # for this user until they log in again.
    needs_relogin: Mapped[bool] = mapped_column(default=False, server_default=false())
    auth_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppSession(Base):
    """A login to backbeat: a browser session (cookie) or an API token. The signed token the
    client holds names this row, so logging out (revoking it) ends it everywhere at once."""

    __tablename__ = "app_sessions"
    __table_args__ = (Index("ix_app_sessions_user_id", "user_id"), one_of("kind", SESSION_KINDS))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SpotifyToken(Base):
    """One user's Spotify grant. Tokens are encrypted with the engine's `TokenCipher`."""

    __tablename__ = "spotify_tokens"
    # The 30-minute refresh sweep looks for tokens expiring soon.
    __table_args__ = (Index("ix_spotify_tokens_expires_at", "expires_at"),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    access_token: Mapped[str] = mapped_column(EncryptedText())
    refresh_token: Mapped[str] = mapped_column(EncryptedText())
    expires_at: Mapped[datetime]
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
