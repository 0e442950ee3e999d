"""anchored ledger: hash versions on consent events, signed anchors with their chain heads, and
seals over the access log

Revision ID: 0014_b2
Revises: 0013_d1
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_b2"
down_revision: str | None = "0013_c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Every event so far was hashed the legacy way (version 1); a constant default is instant.
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hash_version", sa.SmallInteger(), server_default="1", nullable=False))
    op.create_table(
        "ledger_anchors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("events", SEQ, nullable=False),
        sa.Column("chains", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("audit_upto", SEQ, nullable=False),
        sa.Column("audit_head", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("sink", sa.String(length=16), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_anchors")),
    )
    op.create_table(
        "ledger_anchor_heads",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["anchor_id"],
            ["ledger_anchors.id"],
            name=op.f("fk_ledger_anchor_heads_anchor_id_ledger_anchors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "anchor_id", name=op.f("pk_ledger_anchor_heads")),
    )
    op.create_table(
        "access_seals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upto", SEQ, nullable=False),
        sa.Column("rows", SEQ, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_seals")),
        sa.UniqueConstraint("upto", name=op.f("uq_access_seals_upto")),
    )


def downgrade() -> None:
    op.drop_table("access_seals")
    op.drop_table("ledger_anchor_heads")
    op.drop_table("ledger_anchors")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_column("hash_version")
