"""The `staff_alerts` table: one row per alert ever queued; its unique key makes a rerun a no-op."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime


class StaffAlert(Base):
    """An alert e-mail queued for staff, e.g. key `breach:<id>:24h:<deadline>` (no personal data)."""

    __tablename__ = "staff_alerts"
    __table_args__ = (Index("ix_staff_alerts_kind_created_at", "kind", "created_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # breach_deadline | policy_review | ledger_failure
    controller: Mapped[str | None] = mapped_column(String(64), default=None)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # how many e-mails were queued
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
