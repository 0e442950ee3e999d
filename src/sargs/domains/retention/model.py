"""Retention runs, legal holds, the destruction log and the per-source run lease (R-RET-2).

Nothing here holds personal data, except a legal hold on a person, which names the identity held.
The destruction log says what was removed -- source, table, how many rows and their primary-key
range, under which rules, by which run, when -- never a removed value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")
UNFINISHED = ("running", "interrupted", "failed", "paused")  # run statuses the next run resumes


class RetentionRun(Base):
    __tablename__ = "retention_runs"
    __table_args__ = (Index(None, "policy_id", "source_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | finished | interrupted | failed
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())  # cutoffs are computed at this instant
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    started_by: Mapped[str] = mapped_column(String(120))
    batch_size: Mapped[int] = mapped_column(Integer)
    max_rows: Mapped[int | None] = mapped_column(Integer, default=None)
    rows_removed: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # table -> {deleted, anonymised}
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # table -> last key; done
    error: Mapped[str | None] = mapped_column(String(500), default=None)


class RetentionHold(Base):
    """A legal hold: rows of a person (by identity) or of a whole table are not removed."""

    __tablename__ = "retention_holds"
    __table_args__ = (Index(None, "released_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # subject | table
    identity_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    identity_value: Mapped[str | None] = mapped_column(String(255), default=None)
    source_id: Mapped[str | None] = mapped_column(String(64), default=None)
    table_name: Mapped[str | None] = mapped_column(String(130), default=None)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    released_by: Mapped[str | None] = mapped_column(String(120), default=None)


class DestructionLogEntry(Base):
    """One batch removed (or about to be: status pending) from one table by one run."""

    __tablename__ = "destruction_log"
    __table_args__ = (Index(None, "run_id", "status"), Index(None, "at"))

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(130))
    rules: Mapped[str] = mapped_column(String(500))  # comma-separated rule ids
    action: Mapped[str] = mapped_column(String(16))  # delete | anonymise
    status: Mapped[str] = mapped_column(String(16))  # pending | done
    rows: Mapped[int] = mapped_column(Integer)
    key_first: Mapped[str | None] = mapped_column(String(120))
    key_last: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RetentionLease(Base):
    """Only one run works on a source at a time: the holder renews its lease after every batch."""

    __tablename__ = "retention_leases"

    source_key: Mapped[str] = mapped_column(String(140), primary_key=True)  # policy/source
    run_id: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
