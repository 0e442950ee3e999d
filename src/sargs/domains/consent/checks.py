"""Answering "may this person be processed for this purpose?" from the current-state projection
(R-CON-3), or exactly from the ledger at an instant; each answer logged in the access log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, case, exists, insert, select
from sqlalchemy.orm import Session

from sargs.core.clock import as_utc
from sargs.core.db import PerDialect, core_connection, table
from sargs.core.errors import InvalidInput
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.audit.service import insert_access_rows
from sargs.domains.consent.model import ConsentEvent, ConsentState
from sargs.domains.consent.service import STATUS_OF
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectIdentity

STATES = table(ConsentState)
ACCESS_LOG = table(AccessLogEntry)
INSERT_ACCESS = insert(ACCESS_LOG)

IDENTITIES = table(SubjectIdentity)
CHECK_BY_IDENTITY = (
    select(IDENTITIES.c.subject_id, STATES.c.status, STATES.c.since, STATES.c.event_id)
    .select_from(IDENTITIES)
    .outerjoin(
        STATES,
        (STATES.c.subject_id == IDENTITIES.c.subject_id)
        & (STATES.c.controller == bindparam("controller"))
        & (STATES.c.purpose == bindparam("purpose")),
    )
    .where(IDENTITIES.c.kind == bindparam("kind"), IDENTITIES.c.value == bindparam("value"))
)


def _check_and_log_pg() -> Any:
    """PostgreSQL: the check and its access-log row in one statement (a data-modifying CTE)."""
    hit = CHECK_BY_IDENTITY.cte("hit")
    found = select(hit.c.subject_id).scalar_subquery()
    row: dict[str, Any] = {
        c.name: bindparam(f"a_{c.name}", type_=c.type)
        for c in ACCESS_LOG.c
        if c.name not in ("id", "subject_id", "outcome")
    }
    row["subject_id"] = found
    row["outcome"] = case((exists(select(hit.c.subject_id)), "ok"), else_="not_found")
    log = insert(ACCESS_LOG).from_select(list(row), select(*row.values())).cte("access")
    return select(*hit.c).add_cte(log)


CHECK_AND_LOG_PG = _check_and_log_pg()

# The batch check: every identity of a list with its states for the purposes asked about, in one
# query (the caller picks each pair's answer out of the rows).
MAX_BATCH_CHECK = 1000


def _batch_check(dialect: str) -> Any:
    """PostgreSQL binds each list as one array (`= ANY(:values)`): one statement text whatever the
    count, prepared once by the driver, instead of a parameter per value rendered per call."""
    if dialect == "postgresql":

        def among(column: Any, name: str) -> Any:
            return column == any_(bindparam(name, type_=ARRAY(String)))
    else:

        def among(column: Any, name: str) -> Any:
            return column.in_(bindparam(name, expanding=True))

    return (
        select(
            IDENTITIES.c.kind,
            IDENTITIES.c.value,
            IDENTITIES.c.subject_id,
            STATES.c.purpose,
            STATES.c.status,
            STATES.c.since,
            STATES.c.event_id,
        )
        .select_from(IDENTITIES)
        .outerjoin(
            STATES,
            (STATES.c.subject_id == IDENTITIES.c.subject_id)
            & (STATES.c.controller == bindparam("controller"))
            & among(STATES.c.purpose, "purposes"),
        )
        # The kinds too: the unique index is (kind, value), and a value alone cannot use it.
        .where(among(IDENTITIES.c.kind, "kinds"), among(IDENTITIES.c.value, "values"))
    )


BATCH_CHECK = PerDialect(_batch_check)


@dataclass(frozen=True)
class ConsentCheck:
    allowed: bool
    status: str
    since: datetime | None
    event_id: str | None


def check_consent(
    *, session: Session, subject_id: str, controller: str, purpose: str, at: datetime | None = None
) -> ConsentCheck:
    """Was consent for this purpose in force at `at` (now when omitted)? Exact, from the ledger."""
    if at is None:
        state = session.get(ConsentState, (subject_id, controller, purpose))
        if state is None:
            return ConsentCheck(False, "none", None, None)
        return ConsentCheck(state.status == "granted", state.status, state.since, state.event_id)
    at = as_utc(at)
    row = session.execute(
        select(ConsentEvent.action, ConsentEvent.occurred_at, ConsentEvent.id)
        .where(
            ConsentEvent.subject_id == subject_id,
            ConsentEvent.controller == controller,
            ConsentEvent.purpose == purpose,
            ConsentEvent.occurred_at <= at,
        )
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return ConsentCheck(False, "none", None, None)
    return ConsentCheck(row.action == "grant", STATUS_OF[row.action], row.occurred_at, row.id)


def check_consent_by_identity(
    *,
    session: Session,
    kind: str,
    value: str,
    controller: str,
    purpose: str,
    access: dict[str, Any] | None = None,
) -> tuple[str | None, ConsentCheck]:
    """The subject holding this identity (None if nobody) and whether consent is in force now.

    One indexed query: identity LEFT JOIN current state. `access`: the access-log row of this
    check (audit.service.access_row), written with it, its subject and outcome (ok, not_found)
    filled in; on PostgreSQL in the same statement.
    """
    conn = core_connection(session)
    params = {"kind": kind, "value": value, "controller": controller, "purpose": purpose}
    if access is not None and conn.dialect.name == "postgresql":
        row = conn.execute(CHECK_AND_LOG_PG, {**params, **{f"a_{k}": v for k, v in access.items()}}).first()
    else:
        row = conn.execute(CHECK_BY_IDENTITY, params).first()
        if access is not None:
            found = row.subject_id if row is not None else None
            conn.execute(
                INSERT_ACCESS, {**access, "subject_id": found, "outcome": "ok" if found else "not_found"}
            )
    if row is None:
        return None, ConsentCheck(False, "none", None, None)
    if row.status is None:
        return row.subject_id, ConsentCheck(False, "none", None, None)
    return row.subject_id, ConsentCheck(row.status == "granted", row.status, row.since, row.event_id)


def check_consents_by_identity(
    *, session: Session, controller: str, pairs: Sequence[tuple[Identity, str]]
) -> list[tuple[str | None, ConsentCheck]]:
    """`check_consent_by_identity` for up to MAX_BATCH_CHECK (identity, purpose) pairs, in order,
    with one query for them all."""
    if len(pairs) > MAX_BATCH_CHECK:
        raise InvalidInput(f"at most {MAX_BATCH_CHECK} pairs per call", field="items")
    if not pairs:
        return []
    rows = core_connection(session).execute(
        BATCH_CHECK(session),
        {
            "controller": controller,
            "purposes": sorted({purpose for _, purpose in pairs}),
            "values": sorted({identity.value for identity, _ in pairs}),
            "kinds": sorted({identity.kind for identity, _ in pairs}),
        },
    )
    holder: dict[tuple[str, str], str] = {}
    states: dict[tuple[str, str], ConsentCheck] = {}
    for row in rows:
        holder[(row.kind, row.value)] = row.subject_id
        if row.status is not None:
            states[(row.subject_id, row.purpose)] = ConsentCheck(
                row.status == "granted", row.status, row.since, row.event_id
            )
    answers: list[tuple[str | None, ConsentCheck]] = []
    for identity, purpose in pairs:
        subject_id = holder.get((identity.kind, identity.value))
        check = states.get((subject_id, purpose)) if subject_id is not None else None
        answers.append((subject_id, check or ConsentCheck(False, "none", None, None)))
    return answers


@dataclass(frozen=True)
class CheckRequest:
    """One single check waiting for its answer (see `check_and_log_many`): the identity, what is
    asked, and its access-log row (audit.service.access_row) without subject and outcome."""

    identity: Identity
    controller: str
    purpose: str
    access: dict[str, Any]


def check_and_log_many(
    *, session: Session, requests: Sequence[CheckRequest]
) -> list[tuple[str | None, ConsentCheck]]:
    """`check_consent_by_identity` for many single checks at once, in order: one lookup per
    controller (as a batch check makes) and their access-log rows in one multi-row insert, all in
    the caller's transaction. A group commit (core.group_commit) answers the single checks that
    arrive together with it: one transaction and one commit for all of them."""
    answers: dict[int, tuple[str | None, ConsentCheck]] = {}
    by_controller: dict[str, list[int]] = {}
    for n, request in enumerate(requests):
        by_controller.setdefault(request.controller, []).append(n)
    for controller, indexes in by_controller.items():
        found = check_consents_by_identity(
            session=session,
            controller=controller,
            pairs=[(requests[n].identity, requests[n].purpose) for n in indexes],
        )
        answers.update(zip(indexes, found, strict=True))
    ordered = [answers[n] for n in range(len(requests))]
    rows = [
        {**request.access, "subject_id": sid, "outcome": "ok" if sid else "not_found"}
        for request, (sid, _) in zip(requests, ordered, strict=True)
    ]
    insert_access_rows(session, rows)  # a batch check's rows as one statement on PostgreSQL
    return ordered
