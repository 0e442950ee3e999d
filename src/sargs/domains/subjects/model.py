"""Subjects and their identities.

A subject row holds no personal data: a random id, the head of its consent-ledger chain and
the erasure mark. Identities (phone, e-mail, customer number) live in their own table, so a
person can be erased by deleting those rows while the ledger stays verifiable (R-CON-5).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, UTCDateTime


class Subject(Base):
    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    chain_length: Mapped[int] = mapped_column(Integer, default=0)
    chain_head: Mapped[str | None] = mapped_column(String(64), default=None)


class SubjectIdentity(Base):
    __tablename__ = "subject_identities"
    __table_args__ = (UniqueConstraint("kind", "value"), Index(None, "subject_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubjectGroup(Base):
    """The client group a subject belongs to at one controller (R-CON-3).

    `source` says what set it ("import", "api", "sync:<policy>/<source>"; None: Sargs itself, e.g. a
    stranger's first SMS), `seen_at` when a sync last found the person in its source: a sync moves
    out the members of its group that it did not see (sargs.domains.subjects.sync).
    """

    __tablename__ = "subject_groups"
    __table_args__ = (Index(None, "controller", "client_group", "seen_at"),)

    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True)
    controller: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_group: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str | None] = mapped_column(String(140), default=None)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
