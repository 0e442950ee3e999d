"""recipients told of an erasure, rectification or restriction (Art. 19), and manual sources' tasks

Revision ID: 0016_RC
Revises: 0014_b2
Create Date: 2026-12-07 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_RC"
down_revision: str | None = "0014_b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dsr_recipient_notices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("mail_id", sa.String(length=32), nullable=True),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("confirmed_at", WHEN, nullable=True),
        sa.Column("confirmed_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_requests.id"], name=op.f("fk_dsr_recipient_notices_request_id_dsr_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_recipient_notices")),
        sa.UniqueConstraint(
            "request_id", "recipient", name=op.f("uq_dsr_recipient_notices_request_id_recipient")
        ),
    )
    op.create_index(
        op.f("ix_dsr_recipient_notices_status"),
        "dsr_recipient_notices",
        ["status", "created_at"],
        unique=False,
    )
    op.create_table(
        "dsr_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("done_at", WHEN, nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_requests.id"], name=op.f("fk_dsr_tasks_request_id_dsr_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_tasks")),
        sa.UniqueConstraint("request_id", "source", name=op.f("uq_dsr_tasks_request_id_source")),
    )
    op.create_index(op.f("ix_dsr_tasks_status"), "dsr_tasks", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dsr_tasks_status"), table_name="dsr_tasks")
    op.drop_table("dsr_tasks")
    op.drop_index(op.f("ix_dsr_recipient_notices_status"), table_name="dsr_recipient_notices")
    op.drop_table("dsr_recipient_notices")
