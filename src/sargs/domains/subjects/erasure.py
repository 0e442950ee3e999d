"""Erasure of a person's identifiers inside Sargs, keeping the consent ledger verifiable (R-CON-5).

The ledger's chained fields never need to change: a subject id is random, and the identifiers
(phone, e-mail, customer number) live in `subject_identities`, outside the chain. Erasure
replaces each of them with a keyed pseudonym, so the person can no longer be found by phone or
e-mail, a later registration with the same number becomes a new subject, and whoever holds the
key can still answer "was this number erased?" (`erased_pseudonym_prefix`).

What the chain itself may hold (it cannot be rewritten without breaking verification):
- events Sargs writes carry no raw identifier: SMS evidence holds the message id, the short
  number and the keyword text with e-mail addresses and long digit runs scrubbed
  (`scrub_identifiers`); portal and console evidence hold a keyed hash of the IP address and
  the operator id;
- evidence and idempotency keys sent through the API are refused when they hold the person's
  own identifier (`identifier_in`);
- events written before these guards may still mention an identifier: `pseudonymise_subject_report`
  lists them (`evidence_mentions`) so the answer to the person can say so;
- refused requests (`consent_rejections`) are outside the chain: evidence naming the person is
  blanked there.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sargs.core.errors import NotFound
from sargs.domains.access.model import WebSession
from sargs.domains.consent.model import ConsentEvent, ConsentRejection
from sargs.domains.mail.model import MailOutbox
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.identifiers import scrub_identifiers as scrub_identifiers
from sargs.domains.subjects.model import Subject, SubjectIdentity

ERASED_PREFIX = "erased:"


@dataclass
class PseudonymisationReport:
    """What erasing a person's identifiers inside Sargs did, and what the chain still mentions."""

    identities: int = 0
    outbox_cleared: int = 0
    inbound_cleared: int = 0
    codes_removed: int = 0
    sessions_ended: int = 0
    rejections_scrubbed: int = 0  # refused requests (outside the chain) whose evidence named the person
    evidence_mentions: list[str] = field(default_factory=list)  # consent event ids


def _rows(result: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(getattr(result, "rowcount", 0))


def _digest(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def erased_pseudonym_prefix(*, key: bytes, identity: Identity) -> str:
    """The start of the pseudonym an erased identity got under `key` (followed by the subject id)."""
    return f"{ERASED_PREFIX}{_digest(key, identity.kind, identity.value)}."


def _forms(identity: Identity) -> list[str]:
    if identity.kind == "msisdn":
        digits = identity.value.lstrip("+")
        # The full international digits, and the last eight (a Latvian number written locally).
        return [digits, digits[-8:]] if len(digits) > 8 else [digits]
    return [identity.value.lower()]


def identifier_in(values: Iterable[Any], identities: Iterable[Identity]) -> bool:
    """True when any text in `values` holds one of `identities` (phone numbers in any spelling)."""
    forms = [f for i in identities for f in _forms(i)]
    for value in values:
        if not isinstance(value, str):
            value = str(value) if isinstance(value, int) else ""
        low = value.lower()
        squeezed = re.sub(r"[\s().-]", "", low)
        if any(f in low or f in squeezed for f in forms):
            return True
    return False


def pseudonymise_subject_report(
    *, session: Session, subject_id: str, now: datetime, key: bytes | None = None
) -> PseudonymisationReport:
    """Replace the person's identifiers by keyed pseudonyms and clear their SMS numbers and texts.

    `key` (e.g. derived from the deployment secret) makes the pseudonyms checkable later; without
    one a random key is used and the pseudonyms link to nothing. Idempotent.
    """
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such subject")
    key = key or secrets.token_bytes(32)
    report = PseudonymisationReport()
    rows = session.scalars(
        select(SubjectIdentity)
        .where(SubjectIdentity.subject_id == subject_id, SubjectIdentity.value.not_like(f"{ERASED_PREFIX}%"))
        .order_by(SubjectIdentity.id)
        .with_for_update()
    ).all()
    identities = [Identity(r.kind, r.value) for r in rows]  # type: ignore[arg-type]
    for row in rows:
        row.value = f"{ERASED_PREFIX}{_digest(key, row.kind, row.value)}.{subject_id}"
        row.verified = False
    report.identities = len(rows)

    numbers = [i.value for i in identities if i.kind == "msisdn"]
    owned = SmsOutbox.subject_id == subject_id
    where = owned if not numbers else owned | SmsOutbox.to_number.in_(numbers)
    report.outbox_cleared = _rows(
        session.execute(
            update(SmsOutbox)
            .where(where, SmsOutbox.status.in_(("queued", "sending")))
            .values(to_number=None, status="failed", last_error="recipient erased")
            .execution_options(synchronize_session=False)
        )
    )
    report.outbox_cleared += _rows(
        session.execute(
            update(SmsOutbox)
            .where(where, SmsOutbox.to_number.is_not(None))
            .values(to_number=None)
            .execution_options(synchronize_session=False)
        )
    )
    emails = [i.value for i in identities if i.kind == "email"]
    mailed = MailOutbox.subject_id == subject_id
    mail_where = mailed if not emails else mailed | MailOutbox.to_address.in_(emails)
    report.outbox_cleared += _rows(
        session.execute(
            update(MailOutbox)
            .where(mail_where, MailOutbox.status.in_(("queued", "sending")))
            .values(to_address=None, status="failed", last_error="recipient erased")
            .execution_options(synchronize_session=False)
        )
    )
    report.outbox_cleared += _rows(
        session.execute(
            update(MailOutbox)
            .where(mail_where, MailOutbox.to_address.is_not(None))
            .values(to_address=None)
            .execution_options(synchronize_session=False)
        )
    )
    report.inbound_cleared = _rows(
        session.execute(
            update(SmsInbound)
            .where(SmsInbound.subject_id == subject_id, SmsInbound.text != "")
            .values(text="")
            .execution_options(synchronize_session=False)
        )
    )
    report.codes_removed = _rows(
        session.execute(
            delete(OneTimeCode)
            .where(OneTimeCode.subject_id == subject_id)
            .execution_options(synchronize_session=False)
        )
    )
    report.sessions_ended = _rows(
        session.execute(
            update(WebSession)
            .where(
                WebSession.kind == "subject", WebSession.owner_id == subject_id, WebSession.ended_at.is_(None)
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if identities:
        evidence = session.execute(
            select(ConsentEvent.id, ConsentEvent.evidence, ConsentEvent.idempotency_key)
            .where(ConsentEvent.subject_id == subject_id)
            .order_by(ConsentEvent.chain_seq)
        )
        report.evidence_mentions = [
            event_id
            for event_id, ev, idem in evidence
            if identifier_in([*(ev or {}).keys(), *(ev or {}).values(), idem or ""], identities)
        ]
        for rejection in session.scalars(
            select(ConsentRejection)
            .where(ConsentRejection.subject_id == subject_id)
            .order_by(ConsentRejection.id)
        ):
            ev = dict(rejection.evidence or {})
            cleaned = {k: ("…" if identifier_in([k, v], identities) else v) for k, v in ev.items()}
            if cleaned != ev:
                rejection.evidence = cleaned
                report.rejections_scrubbed += 1
    if subject.erased_at is None:
        subject.erased_at = now
    session.flush()
    return report


def pseudonymise_subject(
    *, session: Session, subject_id: str, now: datetime, key: bytes | None = None
) -> int:
    """Replace the person's identifiers by keyed pseudonyms (see the module docstring); how many."""
    return pseudonymise_subject_report(session=session, subject_id=subject_id, now=now, key=key).identities
