"""Repeat requests (retailer 3.6, R-DSR-4): a request of the same kind to the same controller within
`repeat_request_months` of an earlier one by the same person is flagged for the DPO's decision.

The same person is the same subject, when Sargs knows them, or whoever shares one of the
identities the requester gave, as normalised at intake (e-mail lower-cased, phone numbers in
E.164, customer numbers exactly). So someone who exists only in a data source, or only as an
e-mail address, and so has no subject, is matched too. Identities an erasure has masked no longer
match. A cancelled request does not count.

Two requests arriving at once must not both pass as first: the check claims (controller, kind,
identity) and (controller, kind, subject) for its transaction (`lock_names`: PostgreSQL advisory
locks; SQLite's write lock already serialises), so the later one waits and then sees the earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, false, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from sargs.core.db import lock_names
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.policy.schema import Deadlines


def claims(*, controller: str, kind: str, subject_id: str | None, identities: Sequence[str]) -> list[str]:
    """The names two requests by one person share (the lock `find_repeat` takes)."""
    names = [f"dsr-repeat/{controller}/{kind}/{identity}" for identity in identities]
    if subject_id is not None:
        names.append(f"dsr-repeat/{controller}/{kind}/subject:{subject_id}")
    return names


def find_repeat(
    *,
    session: Session,
    controller: str,
    kind: str,
    subject_id: str | None,
    identities: Sequence[str],
    now: datetime,
    deadlines: Deadlines,
) -> str | None:
    """The latest earlier request this one repeats, or None. Holds the claims until the transaction
    ends, so call it in the transaction that files the request."""
    if deadlines.repeat_request_months <= 0:
        return None
    lock_names(
        session, claims(controller=controller, kind=kind, subject_id=subject_id, identities=identities)
    )
    since = wf.months_before(now, deadlines.repeat_request_months)
    same_person = _shares_identity(session, identities)
    if subject_id is not None:
        same_person = or_(DsrRequest.subject_id == subject_id, same_person)
    rows = session.execute(
        select(DsrRequest.id, DsrRequest.received_at).where(
            DsrRequest.controller == controller,
            DsrRequest.kind == kind,
            DsrRequest.status != "cancelled",
            DsrRequest.received_at >= since,  # no upper bound: see workflow.is_repeat
            same_person,
        )
    ).all()
    if not wf.is_repeat(
        previous_received=[r.received_at for r in rows], received_at=now, deadlines=deadlines
    ):
        return None
    return str(max(rows, key=lambda r: (r.received_at, r.id)).id)


def _shares_identity(session: Session, identities: Sequence[str]) -> ColumnElement[bool]:
    """The request names one of `identities` (its JSON list of "kind:value" strings)."""
    if not identities:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        named = type_coerce(DsrRequest.identities, JSONB)
        return or_(*(named.contains([identity]) for identity in identities))
    each = func.json_each(DsrRequest.identities).table_valued("value")
    return exists(select(each.c.value).where(each.c.value.in_(list(identities))))
