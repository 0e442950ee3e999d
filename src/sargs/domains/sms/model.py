"""Inbound keyword messages and the outbox of texts to send (R-SMS-2, R-SMS-3).

An inbound row is written first, keyed by (provider, provider message id): a provider's retried
delivery of the same message meets the unique key and changes nothing. It holds no phone
number: the sender is a subject identity, stored apart. The outbox keeps the recipient's number
only until the message is sent or given up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime


class SmsInbound(Base):
    __tablename__ = "sms_inbound"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id"),
        Index(None, "subject_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="SET NULL"))
    controller: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(1600))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What it meant and what came of it.
    command: Mapped[str] = mapped_column(String(16))  # grant | withdraw | stop_all | start | help
    keyword: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(16))  # granted | withdrawn | refused | help
    detail: Mapped[str | None] = mapped_column(String(500))
    event_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reply_id: Mapped[str | None] = mapped_column(String(32))


class SmsOutbox(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (Index(None, "status", "next_attempt_at"), Index(None, "subject_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | code | notice
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="SET NULL"))
    inbound_id: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(20))  # cleared once sent or given up
    sender: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(1600))
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))  # queued | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def as_dict(self) -> dict[str, Any]:
        return {c.name: getattr(self, c.name) for c in self.__table__.columns}
