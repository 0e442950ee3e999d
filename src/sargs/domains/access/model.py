"""Server-side web sessions (staff console and subject portal): only a hash of the cookie is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime


class WebSession(Base):
    __tablename__ = "web_sessions"
    __table_args__ = (Index(None, "kind", "owner_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "staff" | "staff-pending" | "subject"
    owner_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When the owner last proved who they are (sign-in or re-authentication); None: at created_at.
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
