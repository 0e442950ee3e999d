"""Staff accounts for the console: argon2 password hashes, roles, controller scope, second factor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    controllers: Mapped[list[str] | None] = mapped_column(JSONType, default=None)  # None: all
    password_hash: Mapped[str] = mapped_column(String(200))  # "!" for accounts that sign in only by SSO
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The TOTP secret, AES-GCM encrypted (see mfa.seal); set while enrolling, live once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)  # replay protection
    # "issuer subject" of the identity-provider account signed in with (OpenID Connect), once linked.
    oidc_subject: Mapped[str | None] = mapped_column(String(400), unique=True, default=None)


class StaffRecoveryCode(Base):
    """One-time recovery codes for a lost authenticator, argon2-hashed like passwords."""

    __tablename__ = "staff_recovery_codes"
    __table_args__ = (Index(None, "staff_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), ForeignKey("staff_members.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
