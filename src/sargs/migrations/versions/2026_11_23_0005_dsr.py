"""dsr: rights requests, their append-only trail, per-source results and OpenDSR callbacks;
portal request intents become requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = (
    "CREATE TRIGGER dsr_events_no_update BEFORE UPDATE ON dsr_events "
    "BEGIN SELECT RAISE(ABORT, 'dsr_events is append-only'); END",
    "CREATE TRIGGER dsr_events_no_delete BEFORE DELETE ON dsr_events "
    "BEGIN SELECT RAISE(ABORT, 'dsr_events is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE FUNCTION dsr_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'dsr_events is append-only'; END $$",
    "CREATE TRIGGER dsr_events_append_only BEFORE UPDATE OR DELETE ON dsr_events "
    "FOR EACH ROW EXECUTE FUNCTION dsr_events_append_only()",
)
SQLITE_DROP = ("DROP TRIGGER IF EXISTS dsr_events_no_update", "DROP TRIGGER IF EXISTS dsr_events_no_delete")
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS dsr_events_append_only ON dsr_events",
    "DROP FUNCTION IF EXISTS dsr_events_append_only()",
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _aware(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _migrate_intents() -> None:
    """Requests started in the portal before the workflow existed become received requests."""
    bind = op.get_bind()
    meta = sa.MetaData()
    intents = sa.Table("request_intents", meta, autoload_with=bind)
    idents = sa.Table("subject_identities", meta, autoload_with=bind)
    requests = sa.table(
        "dsr_requests",
        *[
            sa.column(n)
            for n in ("id", "controller", "subject_id", "kind", "details", "channel", "language", "status")
        ],
        sa.column("purposes", sa.JSON()),
        sa.column("identities", sa.JSON()),
        sa.column("requester", sa.JSON()),
        sa.column("callback_urls", sa.JSON()),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("first_due_at", sa.DateTime(timezone=True)),
        sa.column("due_at", sa.DateTime(timezone=True)),
    )
    for row in bind.execute(sa.select(intents)).mappings().all():
        received = _aware(row["created_at"])
        due = received + timedelta(days=30)
        ids = [
            f"{k}:{v}"
            for k, v in bind.execute(
                sa.select(idents.c.kind, idents.c.value).where(idents.c.subject_id == row["subject_id"])
            )
        ]
        if bind.dialect.name == "sqlite":
            received, due = received.replace(tzinfo=None), due.replace(tzinfo=None)
        bind.execute(
            requests.insert().values(
                id=row["id"],
                controller=row["controller"],
                subject_id=row["subject_id"],
                kind=row["kind"],
                details=row["details"] or "",
                channel="portal",
                language="lv",
                status="received",
                purposes=[],
                identities=ids,
                requester={},
                callback_urls=[],
                received_at=received,
                first_due_at=due,
                due_at=due,
            )
        )


def upgrade() -> None:
    op.create_table(
        "dsr_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("controller", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ground", sa.String(length=32), nullable=True),
        sa.Column("purposes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("identities", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("requester", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("representative", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("verification", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extension", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("repeat_of", sa.String(length=32), nullable=True),
        sa.Column("repeat_decision", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("hold_message", sa.Text(), nullable=True),
        sa.Column("decision", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("callback_urls", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("reminded_on", sa.String(length=10), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_requests")),
        sa.UniqueConstraint("controller", "external_id", name=op.f("uq_dsr_requests_controller_external_id")),
    )
    op.create_index(op.f("ix_dsr_requests_status"), "dsr_requests", ["status", "due_at"], unique=False)
    op.create_index(
        op.f("ix_dsr_requests_subject_id"),
        "dsr_requests",
        ["subject_id", "kind", "received_at"],
        unique=False,
    )
    op.create_table(
        "dsr_callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_requests.id"], name=op.f("fk_dsr_callbacks_request_id_dsr_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_callbacks")),
    )
    op.create_index(
        op.f("ix_dsr_callbacks_status"), "dsr_callbacks", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "dsr_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_requests.id"], name=op.f("fk_dsr_events_request_id_dsr_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_events")),
    )
    op.create_index(op.f("ix_dsr_events_request_id"), "dsr_events", ["request_id", "id"], unique=False)
    op.create_table(
        "dsr_source_runs",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_requests.id"], name=op.f("fk_dsr_source_runs_request_id_dsr_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", "source", name=op.f("pk_dsr_source_runs")),
    )

    for statement in POSTGRES_TRIGGERS if _postgres() else SQLITE_TRIGGERS:
        op.execute(statement)
    _migrate_intents()


def downgrade() -> None:
    for statement in POSTGRES_DROP if _postgres() else SQLITE_DROP:
        op.execute(statement)

    op.drop_table("dsr_source_runs")
    op.drop_index(op.f("ix_dsr_events_request_id"), table_name="dsr_events")
    op.drop_table("dsr_events")
    op.drop_index(op.f("ix_dsr_callbacks_status"), table_name="dsr_callbacks")
    op.drop_table("dsr_callbacks")
    op.drop_index(op.f("ix_dsr_requests_subject_id"), table_name="dsr_requests")
    op.drop_index(op.f("ix_dsr_requests_status"), table_name="dsr_requests")
    op.drop_table("dsr_requests")
