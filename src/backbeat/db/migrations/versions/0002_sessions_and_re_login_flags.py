"""Sessions (browser cookies and API tokens) and the users' re-login flag.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:54:05.682858
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("kind IN ('cookie', 'api')", name=op.f("ck_app_sessions_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_app_sessions_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_sessions")),
    )
    op.create_index("ix_app_sessions_user_id", "app_sessions", ["user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("needs_relogin", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("auth_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auth_error")
        batch.drop_column("needs_relogin")
    op.drop_index("ix_app_sessions_user_id", table_name="app_sessions")
    op.drop_table("app_sessions")
