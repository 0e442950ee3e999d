"""One-time sign-in / verification codes, and requests started in the portal (a placeholder
the rights-request workflow will take over)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime


class OneTimeCode(Base):
    """A 6-digit code sent to a phone or e-mail. Only an HMAC of the code is stored; the identity
    is stored as a keyed digest (for rate limiting), never in clear, except the new address a
    person is verifying (`pending_value`), which becomes theirs once confirmed."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index(None, "identity_digest", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # signin | contact
    identity_digest: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(32))  # None: unknown identity, nothing sent
    pending_value: Mapped[str | None] = mapped_column(String(300), default=None)
    pending_replace: Mapped[bool] = mapped_column(Boolean, default=False)
    code_hmac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RequestIntent(Base):
    """A rights request a signed-in person started in the portal (R-DSR-1 kinds). Minimal on
    purpose: the DSR workflow (deadlines, identity checks, fulfilment) is a later issue."""

    __tablename__ = "request_intents"
    __table_args__ = (Index(None, "subject_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32))
    controller: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
