"""index consent events by time (the DPO dashboard's consents per month)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_consent_events_occurred_at"), "consent_events", ["occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_events_occurred_at"), table_name="consent_events")
