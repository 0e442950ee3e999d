"""Cookie consent records, e-mail tracking events and website access log lines.

Visitors are not data subjects rows: a cookie choice is kept against a random visitor id the
banner made, linked to a subject only when the visitor was signed in to the portal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class CookieConsent(Base):
    """One cookie choice (append-only): what the visitor accepted and refused, under which policy."""

    __tablename__ = "cookie_consents"
    __table_args__ = (Index(None, "visitor_id", "controller", "recorded_at"), Index(None, "subject_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    visitor_id: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="SET NULL"))
    controller: Mapped[str] = mapped_column(String(64))
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[list[str]] = mapped_column(JSONType)
    refused: Mapped[list[str]] = mapped_column(JSONType)
    gpc: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(2))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the receipt's canonical content


class EmailEvent(Base):
    """Something that happened to a sent e-mail: a delivery failure, an open, a click, a conversion,
    a spam complaint or an unsubscribe. Opens, clicks and conversions exist only under consent."""

    __tablename__ = "email_events"
    __table_args__ = (Index(None, "subject_id", "occurred_at"), Index(None, "message_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(32))  # mail_outbox.id
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    controller: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # bounce | complaint | open | click | conversion | unsubscribe
    url: Mapped[str | None] = mapped_column(String(2000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebAccessLog(Base):
    """One line of a web server's access log, with the IP pseudonymised on the way in."""

    __tablename__ = "web_access_log"
    __table_args__ = (UniqueConstraint("controller", "line_key"), Index(None, "requested_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    controller: Mapped[str] = mapped_column(String(64))
    line_key: Mapped[str] = mapped_column(String(32))  # keyed digest of the line and its repeat count
    visitor: Mapped[str] = mapped_column(String(32))  # keyed HMAC of the IP address
    ip_prefix: Mapped[str] = mapped_column(String(50))  # /24 (IPv4) or /48 (IPv6)
    network: Mapped[str | None] = mapped_column(String(200))  # ISP / AS, only if the policy lists it
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2000))  # without the query string
    status: Mapped[int] = mapped_column(Integer)
    bytes_sent: Mapped[int | None] = mapped_column(BigInteger)
    referrer: Mapped[str | None] = mapped_column(String(2000))  # origin and path only
    user_agent: Mapped[str | None] = mapped_column(String(500))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
