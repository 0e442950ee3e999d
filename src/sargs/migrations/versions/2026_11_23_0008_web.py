"""cookie consent, e-mail tracking, unsubscribe and web access logs (issue 7)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_access_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("line_key", sa.String(length=32), nullable=False),
        sa.Column("visitor", sa.String(length=32), nullable=False),
        sa.Column("ip_prefix", sa.String(length=50), nullable=False),
        sa.Column("network", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=True),
        sa.Column("referrer", sa.String(length=2000), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_access_log")),
        sa.UniqueConstraint("controller", "line_key", name=op.f("uq_web_access_log_controller_line_key")),
    )
    with op.batch_alter_table("web_access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_access_log_requested_at"), ["requested_at"], unique=False)

    op.create_table(
        "cookie_consents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column(
            "accepted",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "refused",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_cookie_consents_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cookie_consents")),
    )
    with op.batch_alter_table("cookie_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cookie_consents_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cookie_consents_visitor_id"),
            ["visitor_id", "controller", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "email_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_email_events_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_events")),
    )
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_events_message_id"), ["message_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_email_events_subject_id"), ["subject_id", "occurred_at"], unique=False
        )

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("controller", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column(
            "headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("provider_message_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_mail_outbox_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_outbox_status"), ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mail_outbox_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_subject_id"))
        batch_op.drop_index(batch_op.f("ix_mail_outbox_status"))

    op.drop_table("mail_outbox")
    with op.batch_alter_table("email_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_events_subject_id"))
        batch_op.drop_index(batch_op.f("ix_email_events_message_id"))

    op.drop_table("email_events")
    with op.batch_alter_table("cookie_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cookie_consents_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_cookie_consents_subject_id"))

    op.drop_table("cookie_consents")
    with op.batch_alter_table("web_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_access_log_requested_at"))

    op.drop_table("web_access_log")
