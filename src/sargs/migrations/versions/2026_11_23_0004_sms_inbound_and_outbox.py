"""sms: inbound keyword messages (unique per provider message) and the outbox of texts to send

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:37:04.009649
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_inbound",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=1600), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("event_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("reply_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_sms_inbound_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
        sa.UniqueConstraint(
            "provider", "provider_message_id", name=op.f("uq_sms_inbound_provider_provider_message_id")
        ),
    )
    with op.batch_alter_table("sms_inbound", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sms_inbound_subject_id"), ["subject_id", "received_at"], unique=False
        )

    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("inbound_id", sa.String(length=32), nullable=True),
        sa.Column("to_number", sa.String(length=20), nullable=True),
        sa.Column("sender", sa.String(length=20), nullable=True),
        sa.Column("text", sa.String(length=1600), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_sms_outbox_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_outbox_status"), ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sms_outbox_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_outbox_subject_id"))
        batch_op.drop_index(batch_op.f("ix_sms_outbox_status"))

    op.drop_table("sms_outbox")
    with op.batch_alter_table("sms_inbound", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_inbound_subject_id"))

    op.drop_table("sms_inbound")
