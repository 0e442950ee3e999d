"""Finding and creating subjects by any of their identities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import Conflict, NotFound
from sargs.core.ids import new_id
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity

IDENTITIES = table(SubjectIdentity)
# A hot lookup (every channel, every check): built once, on the table rather than the entity.
BY_IDENTITY = select(IDENTITIES.c.subject_id).where(
    IDENTITIES.c.kind == bindparam("kind"), IDENTITIES.c.value == bindparam("value")
)


@dataclass(frozen=True)
class SubjectView:
    id: str
    identities: list[Identity]
    groups: dict[str, str]
    erased: bool


def find_subject_id(*, session: Session, identity: Identity) -> str | None:
    """The subject that holds this identity, if any."""
    return session.execute(BY_IDENTITY, {"kind": identity.kind, "value": identity.value}).scalar()


def require_subject_id(*, session: Session, identity: Identity) -> str:
    """Like find_subject_id, but a missing subject is an error."""
    subject_id = find_subject_id(session=session, identity=identity)
    if subject_id is None:
        raise NotFound("no data subject has this identity", identity=identity.masked())
    return subject_id


def create_subject(
    *, session: Session, identities: list[Identity], now: datetime, groups: dict[str, str] | None = None
) -> str:
    """A new subject holding the given identities; an identity already in use is a Conflict."""
    for ident in identities:
        if find_subject_id(session=session, identity=ident) is not None:
            raise Conflict("identity already belongs to another subject", identity=ident.masked())
    subject_id = new_id()
    session.add(Subject(id=subject_id, created_at=now, chain_length=0))
    for ident in identities:
        session.add(
            SubjectIdentity(subject_id=subject_id, kind=ident.kind, value=ident.value, created_at=now)
        )
    for controller, group in (groups or {}).items():
        session.add(
            SubjectGroup(subject_id=subject_id, controller=controller, client_group=group, updated_at=now)
        )
    session.flush()
    return subject_id


def get_or_create_subject(
    *, session: Session, identity: Identity, controller: str, default_group: str, now: datetime
) -> tuple[str, bool]:
    """The subject with this identity, or a new one in the controller's default client group.

    Safe against a concurrent creator of the same identity: the loser of the race re-reads
    inside a savepoint instead of failing.
    """
    existing = find_subject_id(session=session, identity=identity)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            subject_id = create_subject(
                session=session, identities=[identity], now=now, groups={controller: default_group}
            )
        return subject_id, True
    except (IntegrityError, Conflict):
        # Another transaction created it between our look and our insert (PostgreSQL: we waited
        # on its unique key until it committed).
        existing = find_subject_id(session=session, identity=identity)
        if existing is None:
            raise
        return existing, False


def client_group(*, session: Session, subject_id: str, controller: str) -> str | None:
    """The subject's client group at this controller, if one was set."""
    return session.scalar(
        select(SubjectGroup.client_group).where(
            SubjectGroup.subject_id == subject_id, SubjectGroup.controller == controller
        )
    )


def set_client_group(
    *, session: Session, subject_id: str, controller: str, group: str, now: datetime
) -> None:
    """Put the subject in a client group at a controller (e.g. they signed a contract)."""
    row = session.get(SubjectGroup, (subject_id, controller))
    if row is None:
        session.add(
            SubjectGroup(subject_id=subject_id, controller=controller, client_group=group, updated_at=now)
        )
    else:
        row.client_group = group
        row.updated_at = now
    session.flush()


def add_identity(
    *, session: Session, subject_id: str, identity: Identity, now: datetime, verified: bool = False
) -> None:
    """Attach another identity to a subject; one held by someone else is a Conflict."""
    owner = find_subject_id(session=session, identity=identity)
    if owner == subject_id:
        return
    if owner is not None:
        raise Conflict("identity already belongs to another subject", identity=identity.masked())
    session.add(
        SubjectIdentity(
            subject_id=subject_id, kind=identity.kind, value=identity.value, verified=verified, created_at=now
        )
    )
    session.flush()


def view_subject(*, session: Session, subject_id: str) -> SubjectView:
    """Identities and client groups of one subject."""
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such subject")
    idents = session.scalars(
        select(SubjectIdentity).where(SubjectIdentity.subject_id == subject_id).order_by(SubjectIdentity.id)
    ).all()
    groups = session.scalars(select(SubjectGroup).where(SubjectGroup.subject_id == subject_id)).all()
    return SubjectView(
        id=subject_id,
        identities=[Identity(i.kind, i.value) for i in idents],  # type: ignore[arg-type]
        groups={g.controller: g.client_group for g in groups},
        erased=subject.erased_at is not None,
    )
