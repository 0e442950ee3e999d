"""The SMS outbox: texts are queued in the transaction that decided to send them, and a sender
worker delivers them through the SmsSender port (R-SMS-3).

Delivery survives restarts: a worker claims a batch by leasing it (status `sending`,
`next_attempt_at` = end of the lease) and commits before calling the provider, so a crashed
worker's batch is picked up again when the lease ends. The outbox id goes to the provider as
an idempotency key, so such a retry is not a second message for providers that honour it.
Transient failures back off exponentially; permanent ones, and too many attempts, mark the
message `failed`. Once a message is sent or given up its number is cleared, and a one-time
code's text with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains import delivery
from sargs.domains.delivery import LEASE, MAX_ATTEMPTS, DeliveryReport
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.ports import PermanentSendError, SmsSender, TransientSendError
from sargs.domains.sms.segments import analyse, fit_one_segment

KINDS = ("reply", "code", "notice")
INSERT = insert(table(SmsOutbox))


@dataclass(frozen=True)
class Queued:
    id: str
    text: str  # as it will be sent (possibly transliterated to fit one segment)
    segments: int


def enqueue(
    *,
    session: Session,
    to: str,
    text: str,
    kind: str,
    now: datetime,
    sender: str | None = None,
    subject_id: str | None = None,
    inbound_id: str | None = None,
) -> Queued:
    """Queue one text in the caller's transaction.

    The text is sent as written if it fits one segment, else transliterated to GSM-7 when that
    makes it fit (Latvian diacritics force UCS-2, whose segments hold 70 characters, not 160).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    body = fit_one_segment(text)
    info = analyse(body)
    outbox_id = new_id()
    session.execute(
        INSERT,
        {
            "id": outbox_id,
            "kind": kind,
            "subject_id": subject_id,
            "inbound_id": inbound_id,
            "to_number": to,
            "sender": sender,
            "text": body,
            "encoding": info.encoding,
            "segments": info.segments,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return Queued(outbox_id, body, info.segments)


def enqueue_many(
    *,
    session: Session,
    recipients: list[tuple[str, str | None]],
    text: str,
    kind: str,
    now: datetime,
    sender: str | None = None,
    ids: list[str] | None = None,
) -> list[str]:
    """Queue one text to many (number, subject id) recipients in one statement; their outbox ids, in order
    (`ids` when given, e.g. already recorded elsewhere in the transaction).

    For notices sent to many people at once (a breach, a new policy version)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    body = fit_one_segment(text)
    info = analyse(body)
    ids = ids if ids is not None else [new_id() for _ in recipients]
    rows = [
        {
            "id": outbox_id,
            "kind": kind,
            "subject_id": subject_id,
            "inbound_id": None,
            "to_number": to,
            "sender": sender,
            "text": body,
            "encoding": info.encoding,
            "segments": info.segments,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for outbox_id, (to, subject_id) in zip(ids, recipients, strict=True)
    ]
    if rows:
        session.execute(INSERT, rows)
    return ids


@dataclass(frozen=True)
class Claimed:
    id: str
    to: str
    sender: str | None
    text: str
    attempts: int


def claim(*, session: Session, now: datetime, limit: int, lease: timedelta = LEASE) -> list[Claimed]:
    """Lease up to `limit` due messages (queued, or `sending` whose lease ran out).

    On PostgreSQL, concurrent workers skip each other's rows (FOR UPDATE SKIP LOCKED); SQLite
    serialises writers anyway.
    """
    rows = session.execute(
        select(SmsOutbox.id, SmsOutbox.to_number, SmsOutbox.sender, SmsOutbox.text, SmsOutbox.attempts)
        .where(SmsOutbox.status.in_(("queued", "sending")), SmsOutbox.next_attempt_at <= now)
        .order_by(SmsOutbox.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [Claimed(r.id, r.to_number or "", r.sender, r.text, r.attempts + 1) for r in rows]
    if claimed:
        session.execute(
            update(SmsOutbox)
            .where(SmsOutbox.id.in_([c.id for c in claimed]))
            .values(status="sending", attempts=SmsOutbox.attempts + 1, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return claimed


def _finish(session: Session, item: Claimed, **values: object) -> bool:
    """Record an outcome, only if this worker's claim still holds."""
    return delivery.record_outcome(session, SmsOutbox, item_id=item.id, attempts=item.attempts, values=values)


def _forget_code_text(session: Session, outbox_id: str) -> None:
    session.execute(
        update(SmsOutbox)
        .where(SmsOutbox.id == outbox_id, SmsOutbox.kind == "code")
        .values(text="(one-time code, removed after sending)")
        .execution_options(synchronize_session=False)
    )


def _attempt(sender: SmsSender, item: Claimed, *, now: datetime, max_attempts: int) -> dict[str, object]:
    """Hand one message to the provider; the outcome as column values."""
    return delivery.attempt(
        lambda: sender.send(to=item.to, sender=item.sender, text=item.text, reference=item.id),
        attempts=item.attempts,
        max_attempts=max_attempts,
        now=now,
        permanent=PermanentSendError,
        transient=TransientSendError,
        address_column="to_number",
        provider_id_length=128,
    )


def deliver_due(
    *,
    sessions: sessionmaker[Session],
    sender: SmsSender,
    now: Callable[[], datetime],
    limit: int = 100,
    lease: timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
    send_budget: timedelta | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Claim one batch of due messages, hand each to `sender`, record each outcome (see
    `delivery.deliver_batch` for the send budget); a code's text is forgotten once settled."""

    def settled(session: Session, item: Claimed, status: str) -> None:
        if status != "queued":
            _forget_code_text(session, item.id)

    return delivery.deliver_batch(
        sessions=sessions,
        model=SmsOutbox,
        claim=lambda session, at: claim(session=session, now=at, limit=limit, lease=lease),
        attempt=lambda item, at: _attempt(sender, item, now=at, max_attempts=max_attempts),
        now=now,
        lease=lease,
        send_budget=send_budget,
        settled=settled,
        should_stop=should_stop,
        what="SMS",
    )


def status_counts(*, session: Session) -> dict[str, int]:
    """How many messages are in each state."""
    rows = session.execute(select(SmsOutbox.status, func.count()).group_by(SmsOutbox.status)).all()
    return {status: count for status, count in rows}


def backlog(*, session: Session, now: datetime) -> delivery.Backlog:
    """Messages waiting to be sent and the age of the oldest (for /metrics)."""
    return delivery.backlog(session, SmsOutbox, now=now)
