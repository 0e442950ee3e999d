"""staff alerts sent once (breach deadlines, policy reviews, ledger failures) and ledger checkpoints

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_alerts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("controller", sa.String(length=64), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_staff_alerts")),
    )
    op.create_index(op.f("ix_staff_alerts_kind_created_at"), "staff_alerts", ["kind", "created_at"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("event_seq", SEQ, nullable=True),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("verified_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_index(op.f("ix_ledger_checkpoints_event_seq"), "ledger_checkpoints", ["event_seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_checkpoints_event_seq"), table_name="ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_index(op.f("ix_staff_alerts_kind_created_at"), table_name="staff_alerts")
    op.drop_table("staff_alerts")
