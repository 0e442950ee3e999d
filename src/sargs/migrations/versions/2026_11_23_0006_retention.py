"""retention runs, legal holds and the destruction log (issue 6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "destruction_log",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=130), nullable=False),
        sa.Column("rules", sa.String(length=500), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("key_first", sa.String(length=120), nullable=True),
        sa.Column("key_last", sa.String(length=120), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_destruction_log")),
    )
    op.create_index(op.f("ix_destruction_log_at"), "destruction_log", ["at"], unique=False)
    op.create_index(op.f("ix_destruction_log_run_id"), "destruction_log", ["run_id", "status"], unique=False)
    op.create_table(
        "retention_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("identity_kind", sa.String(length=16), nullable=True),
        sa.Column("identity_value", sa.String(length=255), nullable=True),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("table_name", sa.String(length=130), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("until", WHEN, nullable=True),
        sa.Column("released_at", WHEN, nullable=True),
        sa.Column("released_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_holds")),
    )
    op.create_index(op.f("ix_retention_holds_released_at"), "retention_holds", ["released_at"], unique=False)
    op.create_table(
        "retention_leases",
        sa.Column("source_key", sa.String(length=140), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_retention_leases")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("as_of", WHEN, nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("max_rows", sa.Integer(), nullable=True),
        sa.Column("rows_removed", sa.Integer(), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("checkpoint", JSON, nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_index(
        op.f("ix_retention_runs_policy_id"),
        "retention_runs",
        ["policy_id", "source_id", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_retention_runs_policy_id"), table_name="retention_runs")
    op.drop_table("retention_runs")
    op.drop_table("retention_leases")
    op.drop_index(op.f("ix_retention_holds_released_at"), table_name="retention_holds")
    op.drop_table("retention_holds")
    op.drop_index(op.f("ix_destruction_log_run_id"), table_name="destruction_log")
    op.drop_index(op.f("ix_destruction_log_at"), table_name="destruction_log")
    op.drop_table("destruction_log")
