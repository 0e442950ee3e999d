"""breach register and processor records (issue 6)

Breaches with their Art. 33(3) content, the notifications filed, an append-only change trail
(triggers refuse UPDATE and DELETE, as for access_log), the people told about a high-risk
breach, and notices of new policy versions. Processors and their contracts live in the policy.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = (
    "CREATE TRIGGER breach_changes_no_update BEFORE UPDATE ON breach_changes "
    "BEGIN SELECT RAISE(ABORT, 'breach_changes is append-only'); END",
    "CREATE TRIGGER breach_changes_no_delete BEFORE DELETE ON breach_changes "
    "BEGIN SELECT RAISE(ABORT, 'breach_changes is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION breach_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'breach_changes is append-only'; END $$",
    "CREATE TRIGGER breach_changes_append_only BEFORE UPDATE OR DELETE ON breach_changes "
    "FOR EACH ROW EXECUTE FUNCTION breach_changes_append_only()",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS breach_changes_no_update",
    "DROP TRIGGER IF EXISTS breach_changes_no_delete",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS breach_changes_append_only ON breach_changes",
    "DROP FUNCTION IF EXISTS breach_changes_append_only()",
)


def _run(statements: tuple[str, ...]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "breaches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("aware_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nature", sa.Text(), nullable=False),
        sa.Column("breach_types", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "data_categories", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "subject_categories", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("approx_subjects", sa.Integer(), nullable=True),
        sa.Column("approx_records", sa.Integer(), nullable=True),
        sa.Column("consequences", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column(
            "affected_tables", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("risk", sa.String(length=8), nullable=True),
        sa.Column("risk_reasoning", sa.Text(), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exemption_ground", sa.String(length=40), nullable=True),
        sa.Column("exemption_reason", sa.Text(), nullable=True),
        sa.Column("subjects_notified", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaches")),
    )
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breaches_controller"), ["controller", "status"], unique=False)

    op.create_table(
        "policy_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_notices")),
        sa.UniqueConstraint(
            "policy_id", "version", "subject_id", name=op.f("uq_policy_notices_policy_id_version_subject_id")
        ),
    )
    op.create_table(
        "breach_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("breach_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"],
            ["breaches.id"],
            name=op.f("fk_breach_changes_breach_id_breaches"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_changes")),
    )
    with op.batch_alter_table("breach_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breach_changes_breach_id"), ["breach_id", "id"], unique=False)

    op.create_table(
        "breach_notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("breach_id", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("delay_reasons", sa.Text(), nullable=True),
        sa.Column("authority_reference", sa.String(length=120), nullable=True),
        sa.Column("content", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("filed_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"],
            ["breaches.id"],
            name=op.f("fk_breach_notifications_breach_id_breaches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_notifications")),
    )
    with op.batch_alter_table("breach_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_breach_notifications_breach_id"), ["breach_id", "filed_at"], unique=False
        )

    op.create_table(
        "breach_subject_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("breach_id", sa.String(length=32), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"],
            ["breaches.id"],
            name=op.f("fk_breach_subject_notices_breach_id_breaches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_subject_notices")),
        sa.UniqueConstraint(
            "breach_id", "person_key", name=op.f("uq_breach_subject_notices_breach_id_person_key")
        ),
    )
    _run(POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS)


def downgrade() -> None:
    _run(POSTGRES_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP)
    op.drop_table("breach_subject_notices")
    with op.batch_alter_table("breach_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_notifications_breach_id"))

    op.drop_table("breach_notifications")
    with op.batch_alter_table("breach_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_changes_breach_id"))

    op.drop_table("breach_changes")
    op.drop_table("policy_notices")
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breaches_controller"))

    op.drop_table("breaches")
