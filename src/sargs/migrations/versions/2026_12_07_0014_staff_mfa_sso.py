"""staff second factor (TOTP, recovery codes), OpenID Connect account link, session re-authentication

Revision ID: 0013_c1
Revises: 0012_d2
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_c1"
down_revision: str | None = "0013_d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("staff_members") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("totp_enrolled_at", WHEN, nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(length=400), nullable=True))
        batch.create_unique_constraint(batch.f("uq_staff_members_oidc_subject"), ["oidc_subject"])
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("authenticated_at", WHEN, nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_recovery_codes_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
    )
    op.create_index(op.f("ix_staff_recovery_codes_staff_id"), "staff_recovery_codes", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_recovery_codes_staff_id"), table_name="staff_recovery_codes")
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("authenticated_at")
    with op.batch_alter_table("staff_members") as batch:
        batch.drop_constraint(batch.f("uq_staff_members_oidc_subject"), type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enrolled_at")
        batch.drop_column("totp_secret")
