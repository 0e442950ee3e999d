"""Notices of a new policy version sent to people (R 7.2): one row per person and version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime


class PolicyNotice(Base):
    """A person told about a published policy version; unique per version, so a re-run tells nobody twice."""

    __tablename__ = "policy_notices"
    __table_args__ = (UniqueConstraint("policy_id", "version", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email | none
    outbox_id: Mapped[str | None] = mapped_column(String(32), default=None)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
