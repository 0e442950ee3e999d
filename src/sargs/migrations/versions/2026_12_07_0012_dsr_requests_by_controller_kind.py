"""index rights requests by controller, kind and time, and (PostgreSQL) by the identities they name:
the repeat-request check (retailer 3.6)

Revision ID: 0012_d2
Revises: 0011
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_d2"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_dsr_requests_controller"),
        "dsr_requests",
        ["controller", "kind", "received_at"],
        unique=False,
    )
    op.create_index(
        "ix_dsr_requests_identities",
        "dsr_requests",
        ["identities"],
        postgresql_using="gin",
        postgresql_ops={"identities": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_dsr_requests_identities", table_name="dsr_requests")
    op.drop_index(op.f("ix_dsr_requests_controller"), table_name="dsr_requests")
