"""client groups say what set them and when a sync last saw the person (issue 19)

Revision ID: 0013_d1
Revises: 0012_d2
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_d1"
down_revision: str | None = "0012_d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("subject_groups") as batch:
        batch.add_column(sa.Column("source", sa.String(length=140), nullable=True))
        batch.add_column(sa.Column("seen_at", WHEN, nullable=True))
        batch.create_index(
            "ix_subject_groups_controller", ["controller", "client_group", "seen_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_groups") as batch:
        batch.drop_index("ix_subject_groups_controller")
        batch.drop_column("seen_at")
        batch.drop_column("source")
