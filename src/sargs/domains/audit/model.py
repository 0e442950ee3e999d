"""The access log: one row per read or change of a person's data (R-ACC-1). Append-only:
there is no update or delete path in code, and a database trigger refuses both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (Index(None, "subject_id", "at"), Index(None, "actor_id", "at"), Index(None, "at"))

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(16))  # token | staff | subject | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(32))
    controller: Mapped[str | None] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))  # read | change | export | signin | signout
    reason: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(32))  # ok | not_found | denied | rejected


class AccessSeal(Base):
    """The access log sealed after the fact (audit.seal): `hash` is the running hash over every
    access_log row with id ≤ `upto`, in id order, and `rows` how many there were. Append-only."""

    __tablename__ = "access_seals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upto: Mapped[int] = mapped_column(SeqType, unique=True)
    rows: Mapped[int] = mapped_column(SeqType)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
