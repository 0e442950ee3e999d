"""Writing and querying the access log. Entries are written in the caller's transaction, so a
read or change and its log entry land together or not at all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.domains.access.principal import Principal
from sargs.domains.audit.model import AccessLogEntry

INSERT = insert(table(AccessLogEntry))
AccessAction = Literal["read", "change", "export", "signin", "signout"]
MAX_PAGE = 500


@dataclass(frozen=True)
class Accessor:
    """Who touched the data: a staff member, a token, the person themselves, or the system."""

    kind: str
    id: str | None
    role: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Accessor:
        return cls(principal.kind, principal.id, principal.role)

    @classmethod
    def subject(cls, subject_id: str) -> Accessor:
        return cls("subject", subject_id, None)


@dataclass(frozen=True)
class AccessPage:
    items: list[AccessLogEntry]
    next_before: int | None


def log_access(
    *,
    session: Session,
    actor: Accessor,
    route: str,
    action: AccessAction,
    now: datetime,
    subject_id: str | None = None,
    controllers: Iterable[str | None] = (None,),
    reason: str | None = None,
    outcome: str = "ok",
) -> None:
    """Append one entry per controller whose data was reached (one with none if no controller)."""
    log_accesses(
        session=session,
        actor=actor,
        route=route,
        action=action,
        now=now,
        entries=[
            (subject_id, controller, outcome)
            for controller in sorted(set(controllers), key=lambda c: c or "") or [None]
        ],
        reason=reason,
    )


def log_accesses(
    *,
    session: Session,
    actor: Accessor,
    route: str,
    action: AccessAction,
    now: datetime,
    entries: Iterable[tuple[str | None, str | None, str]],
    reason: str | None = None,
) -> None:
    """Append one entry per (subject id, controller, outcome), in one multi-row insert: a batch
    consent check logs each person it answered about, as single checks do."""
    common = {
        "at": now,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "role": actor.role,
        "route": route[:200],
        "action": action,
        "reason": reason[:500] if reason else None,
    }
    rows = [
        {**common, "subject_id": subject_id, "controller": controller, "outcome": outcome}
        for subject_id, controller, outcome in entries
    ]
    if not rows:
        return
    # A Core insert on the table: every consent check writes here, so it is a hot path.
    session.execute(INSERT, rows[0] if len(rows) == 1 else rows)


def query_access_log(
    *,
    session: Session,
    viewer: Principal,
    subject_id: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> AccessPage:
    """Entries newest first, filtered; a controller-scoped viewer sees only its controllers' rows."""
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(AccessLogEntry)
    if viewer.controllers is not None:
        stmt = stmt.where(AccessLogEntry.controller.in_(viewer.controllers))
    if subject_id is not None:
        stmt = stmt.where(AccessLogEntry.subject_id == subject_id)
    if actor_id is not None:
        stmt = stmt.where(AccessLogEntry.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AccessLogEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AccessLogEntry.at < until)
    if before is not None:
        stmt = stmt.where(AccessLogEntry.id < before)
    rows = list(session.scalars(stmt.order_by(AccessLogEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AccessPage(rows, rows[-1].id if more and rows else None)


def accesses_to_subject(
    *, session: Session, subject_id: str, controller: str | None = None
) -> list[AccessLogEntry]:
    """Who looked at or changed this person's data, oldest first (for their access request); with
    `controller`, only accesses to that company's data (or not tied to any one company)."""
    stmt = select(AccessLogEntry).where(AccessLogEntry.subject_id == subject_id)
    if controller is not None:
        stmt = stmt.where(AccessLogEntry.controller.is_(None) | (AccessLogEntry.controller == controller))
    return list(session.scalars(stmt.order_by(AccessLogEntry.id)))
