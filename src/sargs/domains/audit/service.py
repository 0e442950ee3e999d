"""Writing and querying the access log. Entries are written in the caller's transaction, so a
read or change and its log entry land together or not at all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from sargs.core.db import core_connection, table
from sargs.domains.access.principal import Principal
from sargs.domains.audit.model import AccessLogEntry

INSERT = insert(table(AccessLogEntry))
INSERT_UNNEST = text(
    "INSERT INTO access_log (at, actor_kind, actor_id, role, subject_id, controller, route, action, reason, outcome)"
    " SELECT :at, :actor_kind, :actor_id, :role, u.subject_id, u.controller, :route, :action, :reason, u.outcome"
    " FROM unnest(CAST(:subject_ids AS varchar[]), CAST(:controllers AS varchar[]), CAST(:outcomes AS varchar[]))"
    " AS u(subject_id, controller, outcome)"
)
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


def access_row(
    *,
    actor: Accessor,
    route: str,
    action: AccessAction,
    now: datetime,
    subject_id: str | None = None,
    controller: str | None = None,
    reason: str | None = None,
    outcome: str = "ok",
) -> dict[str, object]:
    """One access-log row as the table takes it: for code that writes it together with the
    change it records (consent.service.record_consent's `access`)."""
    return {
        "at": now,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "role": actor.role,
        "subject_id": subject_id,
        "controller": controller,
        "route": route[:200],
        "action": action,
        "reason": reason[:500] if reason else None,
        "outcome": outcome,
    }


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
    common = access_row(actor=actor, route=route, action=action, now=now, reason=reason)
    rows = [
        {**common, "subject_id": subject_id, "controller": controller, "outcome": outcome}
        for subject_id, controller, outcome in entries
    ]
    insert_access_rows(session, rows)


# What a request's access-log rows share; they differ in subject, controller and outcome.
SHARED = ("at", "actor_kind", "actor_id", "role", "route", "action", "reason")


def insert_access_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert access-log rows (`access_row`'s shape) in as few statements as the database allows.

    On PostgreSQL the rows that share a request's fields (a batch check's thousand) go as one
    statement of three arrays, however many; the rest in one multi-row insert. A Core insert on
    the table either way: every consent check writes here, so it is a hot path."""
    conn = core_connection(session)
    if len(rows) > 1 and conn.dialect.name == "postgresql":
        runs: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in rows:
            runs.setdefault(tuple(row[k] for k in SHARED), []).append(row)
        alone = []
        for shared, run in runs.items():
            if len(run) == 1:
                alone.append(run[0])
                continue
            conn.execute(
                INSERT_UNNEST,
                {
                    **dict(zip(SHARED, shared, strict=True)),
                    "subject_ids": [r["subject_id"] for r in run],
                    "controllers": [r["controller"] for r in run],
                    "outcomes": [r["outcome"] for r in run],
                },
            )
        rows = alone
    if rows:
        conn.execute(INSERT, rows[0] if len(rows) == 1 else rows)


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
