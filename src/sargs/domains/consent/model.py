"""Consent ledger tables.

`consent_events` is append-only and hash-chained per subject; `consent_states` is the
current-state projection, written in the same transaction; `consent_rejections` records
requests the policy refused (R-CON-3) outside the chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sargs.core.db import Base, JSONType, UTCDateTime

SeqType = BigInteger().with_variant(Integer(), "sqlite")


class ConsentEvent(Base):
    __tablename__ = "consent_events"
    __table_args__ = (
        UniqueConstraint("subject_id", "chain_seq"),
        UniqueConstraint("controller", "idempotency_key"),
        Index(None, "subject_id", "controller", "purpose", "occurred_at"),
        Index(None, "occurred_at"),  # the dashboard's consents per month
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="RESTRICT"))
    chain_seq: Mapped[int] = mapped_column(Integer)
    controller: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    # How `hash` is computed (consent.chain): 1 legacy JSON, 2 RFC 8785; rows older than it are 1.
    hash_version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    hash: Mapped[str] = mapped_column(String(64))


class ConsentState(Base):
    __tablename__ = "consent_states"
    __table_args__ = (Index(None, "controller", "purpose", "status"),)

    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id", ondelete="RESTRICT"), primary_key=True)
    controller: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentRejection(Base):
    __tablename__ = "consent_rejections"
    __table_args__ = (Index(None, "subject_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="SET NULL"))
    controller: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class LedgerCheckpoint(Base):
    """How far a subject's chain was last verified: its event at `chain_seq` and that event's hash.

    The next incremental verification starts there. `ok` False: the chain failed its last
    verification, so every run verifies it again (from the start when `chain_seq` is 0).
    """

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (Index(None, "event_seq"),)  # max(event_seq): events newer than any checkpoint

    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chain_seq: Mapped[int] = mapped_column(Integer)  # 0: nothing of this chain verified yet
    event_seq: Mapped[int | None] = mapped_column(SeqType, default=None)  # consent_events.seq
    event_id: Mapped[str | None] = mapped_column(String(32), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)
    ok: Mapped[bool] = mapped_column(default=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerAnchor(Base):
    """A signed checkpoint of the whole ledger sent outside the database (consent.anchors):
    `record` is the exact signed JSON line the sink received. `sent_at` None: not delivered yet."""

    __tablename__ = "ledger_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    events: Mapped[int] = mapped_column(SeqType)
    chains: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    audit_upto: Mapped[int] = mapped_column(SeqType)  # access_log.id sealed up to (0: none)
    audit_head: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    sink: Mapped[str] = mapped_column(String(16))  # file | mail | http
    record: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class LedgerAnchorHead(Base):
    """A chain's head (position and hash) as of an anchor, written only when it moved since the
    previous anchor: the heads at anchor N are, per chain, its row with the greatest anchor ≤ N.
    They need no protection of their own: the signed Merkle root covers them."""

    __tablename__ = "ledger_anchor_heads"

    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    anchor_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_anchors.id", ondelete="CASCADE"), primary_key=True
    )
    chain_seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
