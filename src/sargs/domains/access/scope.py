"""Which controllers a person is known to, and what of them a principal may see (R-POL-2)."""

from __future__ import annotations

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from sargs.core.errors import NotFound
from sargs.domains.access.principal import Principal
from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState
from sargs.domains.subjects.model import SubjectGroup


def subject_controllers(*, session: Session, subject_id: str) -> set[str]:
    """Controllers that hold anything about this subject: a client group, a consent, a refusal."""
    stmt = union(
        select(SubjectGroup.controller).where(SubjectGroup.subject_id == subject_id),
        select(ConsentState.controller).where(ConsentState.subject_id == subject_id),
        select(ConsentEvent.controller).where(ConsentEvent.subject_id == subject_id),
        select(ConsentRejection.controller).where(ConsentRejection.subject_id == subject_id),
    )
    return {row[0] for row in session.execute(stmt)}


def visible_controllers(*, session: Session, principal: Principal, subject_id: str) -> list[str]:
    """The subject's controllers this principal may see; none means the subject is invisible to it,
    which callers report exactly like an unknown person (NotFound)."""
    seen = sorted(
        c for c in subject_controllers(session=session, subject_id=subject_id) if principal.may_see(c)
    )
    if not seen and principal.controllers is not None:
        raise NotFound("no data subject has this identity")
    return seen
