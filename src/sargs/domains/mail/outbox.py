"""The e-mail outbox, shared by every part of Sargs that sends mail (marketing campaigns,
breach notices, other notices).

Use it like the SMS outbox: call `enqueue(session=..., to=..., subject=..., text=...,
kind=..., now=...)` inside the transaction that decided to send, so the decision and the message
commit together or not at all; `sargs mail send` (or `deliver_due`) delivers it later through
the MailSender port. Optional: `html` (an alternative HTML part), `headers` (extra headers, e.g.
List-Unsubscribe), `subject_id`, `controller`, `purpose` (who and why, for tracking and audit).

Delivery: a worker leases a batch (status `sending`, `next_attempt_at` = end of lease) and
commits before talking to the mail server, so a crashed worker's batch is sent again when the
lease ends, with the same Message-ID. Transient failures back off exponentially (15 s doubling
to 1 h, 8 attempts); permanent ones mark the message `failed`. The address is cleared once a
message is sent or given up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.errors import InvalidInput
from sargs.core.ids import new_id
from sargs.domains import delivery
from sargs.domains.consent.model import ConsentState
from sargs.domains.delivery import LEASE, MAX_ATTEMPTS
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.ports import MailSender, PermanentMailError, TransientMailError

KINDS = ("marketing", "breach", "notice")
INSERT = insert(table(MailOutbox))
HEADER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,75}$")
# Extra headers a caller may set: list headers (RFC 2369/8058), X- headers and a few more. Never
# recipients (To, Cc, Bcc) or what the mailer sets itself (From, Subject, Message-ID, MIME).
ALLOWED_HEADERS = {"precedence", "auto-submitted", "feedback-id", "reply-to"}


def enqueue(
    *,
    session: Session,
    to: str,
    subject: str,
    text: str,
    kind: str,
    now: datetime,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    subject_id: str | None = None,
    controller: str | None = None,
    purpose: str | None = None,
    message_id: str | None = None,
) -> str:
    """Queue one e-mail in the caller's transaction; returns its outbox id (`message_id` if given)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if "@" not in to or any(ch in to for ch in "\r\n,;<> "):
        raise InvalidInput("to must be one plain e-mail address", field="to")
    if not subject.strip() or len(subject) > 300 or any(ch in subject for ch in "\r\n"):
        raise InvalidInput("subject must be one line of at most 300 characters", field="subject")
    extra = dict(headers or {})
    for name, value in extra.items():
        lower = name.lower()
        allowed = lower.startswith(("list-", "x-")) or lower in ALLOWED_HEADERS
        if not HEADER_NAME.match(name) or not allowed:
            raise InvalidInput(f"header {name!r} may not be set here", field="headers")
        if any(ch in value for ch in "\r\n"):
            raise InvalidInput(f"header {name!r} must be one line", field="headers")
    outbox_id = message_id or new_id()
    session.execute(
        INSERT,
        {
            "id": outbox_id,
            "kind": kind,
            "subject_id": subject_id,
            "controller": controller,
            "purpose": purpose,
            "to_address": to,
            "subject": subject,
            "text": text,
            "html": html,
            "headers": extra,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return outbox_id


@dataclass(frozen=True)
class ClaimedMail:
    id: str
    to: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]
    attempts: int


MailReport = delivery.DeliveryReport


def drop_withdrawn(*, session: Session, now: datetime) -> int:
    """Give up due marketing mail whose consent is no longer in force (withdrawn, refused, or the
    person erased) so an unsubscribe takes effect at once, mail already queued included."""
    in_force = (
        select(ConsentState.subject_id)
        .where(
            ConsentState.subject_id == MailOutbox.subject_id,
            ConsentState.controller == MailOutbox.controller,
            ConsentState.purpose == MailOutbox.purpose,
            ConsentState.status == "granted",
        )
        .exists()
    )
    result = session.execute(
        update(MailOutbox)
        .where(
            MailOutbox.kind == "marketing",
            MailOutbox.status.in_(("queued", "sending")),
            MailOutbox.next_attempt_at <= now,
            ~in_force,
        )
        .values(status="failed", to_address=None, last_error="consent no longer in force")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim(*, session: Session, now: datetime, limit: int, lease: timedelta = LEASE) -> list[ClaimedMail]:
    """Lease up to `limit` due messages (queued, or `sending` whose lease ran out); marketing mail
    whose consent is no longer in force is given up first."""
    drop_withdrawn(session=session, now=now)
    rows = session.execute(
        select(
            MailOutbox.id,
            MailOutbox.to_address,
            MailOutbox.subject,
            MailOutbox.text,
            MailOutbox.html,
            MailOutbox.headers,
            MailOutbox.attempts,
        )
        .where(MailOutbox.status.in_(("queued", "sending")), MailOutbox.next_attempt_at <= now)
        .order_by(MailOutbox.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = [
        ClaimedMail(
            r.id, r.to_address or "", r.subject, r.text, r.html, dict(r.headers or {}), r.attempts + 1
        )
        for r in rows
    ]
    if claimed:
        session.execute(
            update(MailOutbox)
            .where(MailOutbox.id.in_([c.id for c in claimed]))
            .values(status="sending", attempts=MailOutbox.attempts + 1, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    return claimed


def _attempt(sender: MailSender, item: ClaimedMail, *, now: datetime, max_attempts: int) -> dict[str, object]:
    """Hand one message to the mail server; the outcome as column values."""
    return delivery.attempt(
        lambda: sender.deliver(
            to=item.to,
            subject=item.subject,
            text=item.text,
            html=item.html,
            headers=item.headers,
            reference=item.id,
        ),
        attempts=item.attempts,
        max_attempts=max_attempts,
        now=now,
        permanent=PermanentMailError,
        transient=TransientMailError,
        address_column="to_address",
        provider_id_length=250,
    )


def deliver_due(
    *,
    sessions: sessionmaker[Session],
    sender: MailSender,
    now: Callable[[], datetime],
    limit: int = 50,
    lease: timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
    should_stop: Callable[[], bool] | None = None,
) -> MailReport:
    """Claim one batch of due messages, hand each to `sender`, record each outcome."""
    return delivery.deliver_batch(
        sessions=sessions,
        model=MailOutbox,
        claim=lambda session, at: claim(session=session, now=at, limit=limit, lease=lease),
        attempt=lambda item, at: _attempt(sender, item, now=at, max_attempts=max_attempts),
        now=now,
        lease=lease,
        should_stop=should_stop,
        what="mail",
    )


def status_counts(*, session: Session) -> dict[str, int]:
    """How many messages are in each state."""
    rows = session.execute(select(MailOutbox.status, func.count()).group_by(MailOutbox.status)).all()
    return {status: count for status, count in rows}


def backlog(*, session: Session, now: datetime) -> delivery.Backlog:
    """Messages waiting to be sent and the age of the oldest (for /metrics)."""
    return delivery.backlog(session, MailOutbox, now=now)
