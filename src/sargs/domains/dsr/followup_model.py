"""What a fulfilled request leaves to follow up: the recipients told of it (GDPR Art. 19) until they
confirm, and the manual sources' tasks until staff mark them done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime


class DsrRecipientNotice(Base):
    """One recipient (a policy processor) told of an erasure, rectification or restriction.

    No personal data: the notice's text is in the mail outbox (which clears the address once sent)."""

    __tablename__ = "dsr_recipient_notices"
    __table_args__ = (UniqueConstraint("request_id", "recipient"), Index(None, "status", "created_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_requests.id"))
    recipient: Mapped[str] = mapped_column(String(64))  # the policy's processor id
    name: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(8))  # email | none (no address: staff tell it)
    mail_id: Mapped[str | None] = mapped_column(String(32), default=None)  # its mail_outbox row
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(12))  # told | confirmed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the confirm link's end
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(80), default=None)  # link | staff:<id>
    note: Mapped[str | None] = mapped_column(Text, default=None)


class DsrTask(Base):
    """Work a person does in a manual source for one request; the request waits until it is done."""

    __tablename__ = "dsr_tasks"
    __table_args__ = (UniqueConstraint("request_id", "source"), Index(None, "status", "due_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_requests.id"))
    source: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(16))  # collect | erase
    assignee: Mapped[str] = mapped_column(String(320))  # the staff member's e-mail
    status: Mapped[str] = mapped_column(String(8))  # open | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_by: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
