"""Breach register tables: breaches, filed notifications, the append-only change trail, notices sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime


class Breach(Base):
    """One personal-data breach of one controller, with the content Art. 33(3) asks for."""

    __tablename__ = "breaches"
    __table_args__ = (Index(None, "controller", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # open | assessed | notified | closed
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime())
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    nature: Mapped[str] = mapped_column(Text)
    breach_types: Mapped[list[str]] = mapped_column(JSONType)  # confidentiality | integrity | availability
    data_categories: Mapped[list[str]] = mapped_column(JSONType)
    subject_categories: Mapped[list[str]] = mapped_column(JSONType)
    approx_subjects: Mapped[int | None] = mapped_column(Integer, default=None)
    approx_records: Mapped[int | None] = mapped_column(Integer, default=None)
    consequences: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    affected_tables: Mapped[list[str]] = mapped_column(JSONType)  # "source.table"
    risk: Mapped[str | None] = mapped_column(String(8), default=None)  # none | risk | high
    risk_reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    exemption_ground: Mapped[str | None] = mapped_column(String(40), default=None)  # Art. 34(3)
    exemption_reason: Mapped[str | None] = mapped_column(Text, default=None)
    subjects_notified: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class BreachNotification(Base):
    """A notification filed with the supervisory authority (initial, follow-up or final)."""

    __tablename__ = "breach_notifications"
    __table_args__ = (Index(None, "breach_id", "filed_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    breach_id: Mapped[str] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(16))  # initial | follow_up | final
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    late: Mapped[bool] = mapped_column(default=False)
    delay_reasons: Mapped[str | None] = mapped_column(Text, default=None)
    authority_reference: Mapped[str | None] = mapped_column(String(120), default=None)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)  # what was filed, as exported
    filed_by: Mapped[str] = mapped_column(String(120))


class BreachChange(Base):
    """The append-only trail of everything done to a breach record (who, when, what changed)."""

    __tablename__ = "breach_changes"
    __table_args__ = (Index(None, "breach_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    breach_id: Mapped[str] = mapped_column(ForeignKey("breaches.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType)


class BreachSubjectNotice(Base):
    """One affected person told about a high-risk breach; the key makes a re-run notify nobody twice.

    `person_key` is a keyed hash (the subject id when Sargs knows the person, else the identity),
    so the table holds no contact details.
    """

    __tablename__ = "breach_subject_notices"
    __table_args__ = (UniqueConstraint("breach_id", "person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    breach_id: Mapped[str] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"))
    person_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email | none
    outbox_id: Mapped[str | None] = mapped_column(String(32), default=None)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
