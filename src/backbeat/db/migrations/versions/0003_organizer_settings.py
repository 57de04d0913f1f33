"""The organizer's per-user settings and the scan's mode note, on `organizer_scan_states`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here, not imported: a later change of the model's default must not change 0003.
NAME_PATTERN = "Liked · {name}"


def upgrade() -> None:
    with op.batch_alter_table("organizer_scan_states") as batch:
        batch.add_column(sa.Column("mode_note", sa.Text(), nullable=True))
        for name in ("enabled", "by_language", "by_genre"):
            batch.add_column(
                sa.Column(name, sa.Boolean(), server_default=sa.true(), nullable=False)
            )
        batch.add_column(
            sa.Column(
                "name_pattern", sa.String(length=100), server_default=NAME_PATTERN, nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("organizer_scan_states") as batch:
        batch.drop_column("name_pattern")
        batch.drop_column("by_genre")
        batch.drop_column("by_language")
        batch.drop_column("enabled")
        batch.drop_column("mode_note")
