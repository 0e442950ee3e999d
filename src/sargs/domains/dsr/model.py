"""Rights requests (R-DSR-1..7): the request, its append-only audit trail, one result row per data
source, and the outbox of signed OpenDSR status callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime
from sargs.domains.audit.model import SeqType


class DsrRequest(Base):
    """One data-subject request. Personal data (requester's name, address, identities) is held
    only until the request is closed by an erasure; then it is replaced by masked forms."""

    __tablename__ = "dsr_requests"
    __table_args__ = (
        Index(None, "subject_id", "kind", "received_at"),
        Index(None, "controller", "kind", "received_at"),  # repeat requests (dsr.repeats)
        # Which requests name an identity (PostgreSQL: GIN for `identities @> '["email:…"]'`;
        # SQLite, which searches with json_each, gets a plain index it does not use).
        Index(
            "ix_dsr_requests_identities",
            "identities",
            postgresql_using="gin",
            postgresql_ops={"identities": "jsonb_path_ops"},
        ),
        Index(None, "status", "due_at"),
        UniqueConstraint("controller", "external_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    controller: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(32), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    ground: Mapped[str | None] = mapped_column(String(32), default=None)  # erasure ground / objection scope
    purposes: Mapped[list[str]] = mapped_column(JSONType, default=list)  # consent withdrawal / objection
    details: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2), default="lv")
    status: Mapped[str] = mapped_column(String(24))
    identities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    requester: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    representative: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extension: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    repeat_of: Mapped[str | None] = mapped_column(String(32), default=None)
    repeat_decision: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    hold_message: Mapped[str | None] = mapped_column(Text, default=None)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    callback_urls: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reminded_on: Mapped[str | None] = mapped_column(String(10), default=None)  # last reminder day
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)


class DsrEvent(Base):
    """Append-only trail: every transition and decision (who, when, what, why)."""

    __tablename__ = "dsr_events"
    __table_args__ = (Index(None, "request_id", "id"),)

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_requests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class DsrSourceRun(Base):
    """What one data source answered for one request: pending, running, ok or failed (retryable)."""

    __tablename__ = "dsr_source_runs"

    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_requests.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))  # collect | erase
    status: Mapped[str] = mapped_column(String(16))  # pending | running | ok | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DsrCallback(Base):
    """A signed OpenDSR status callback waiting to be delivered (retried with backoff)."""

    __tablename__ = "dsr_callbacks"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_requests.id"))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
