"""Recording consent events, answering "was consent valid at t?", and verifying the chain."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import bindparam, case, exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sargs.core.clock import as_utc
from sargs.core.db import PerDialect, core_connection, table
from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.ids import new_id
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.consent.chain import CHAINED_FIELDS, event_hash
from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import CONSENT_CHANNELS
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity

Action = Literal["grant", "withdraw", "refuse"]
ACTIONS: tuple[str, ...] = ("grant", "withdraw", "refuse")
STATUS_OF: dict[str, str] = {"grant": "granted", "withdraw": "withdrawn", "refuse": "refused"}
ActorType = Literal["subject", "staff", "system", "token"]
MAX_CLOCK_SKEW = timedelta(minutes=5)
SUBJECTS = table(Subject)
GROUPS = table(SubjectGroup)
EVENTS = table(ConsentEvent)
STATES = table(ConsentState)
ACCESS_LOG = table(AccessLogEntry)
INSERT_ACCESS = insert(ACCESS_LOG)
STATE_COLUMNS = (
    "subject_id",
    "controller",
    "purpose",
    "status",
    "since",
    "event_id",
    "channel",
    "updated_at",
)

# The write path's statements, built once (hot path of every channel; see core.db.PerDialect).
LOCK_HEAD = (
    select(SUBJECTS.c.chain_length, SUBJECTS.c.chain_head, SUBJECTS.c.erased_at, GROUPS.c.client_group)
    .select_from(SUBJECTS)
    .outerjoin(
        GROUPS, (GROUPS.c.subject_id == SUBJECTS.c.id) & (GROUPS.c.controller == bindparam("controller"))
    )
    .where(SUBJECTS.c.id == bindparam("subject_id"))
    .with_for_update(of=SUBJECTS)
)
# The subject's client group, read once the lock is held (see record_consent).
GROUP_NOW = select(GROUPS.c.client_group).where(
    GROUPS.c.subject_id == bindparam("subject_id"), GROUPS.c.controller == bindparam("controller")
)
# LOCK_HEAD found by one of the subject's identities: the lookup and the lock in one round trip.
LOCK_BY_IDENTITY = (
    select(
        SUBJECTS.c.id,
        SUBJECTS.c.chain_length,
        SUBJECTS.c.chain_head,
        SUBJECTS.c.erased_at,
        GROUPS.c.client_group,
    )
    .select_from(table(SubjectIdentity))
    .join(SUBJECTS, SUBJECTS.c.id == table(SubjectIdentity).c.subject_id)
    .outerjoin(
        GROUPS, (GROUPS.c.subject_id == SUBJECTS.c.id) & (GROUPS.c.controller == bindparam("controller"))
    )
    .where(
        table(SubjectIdentity).c.kind == bindparam("kind"),
        table(SubjectIdentity).c.value == bindparam("value"),
    )
    .with_for_update(of=SUBJECTS)
)
BY_KEY = select(*EVENTS.c).where(
    EVENTS.c.controller == bindparam("controller"), EVENTS.c.idempotency_key == bindparam("key")
)
INSERT_EVENT = insert(EVENTS)
ADVANCE_HEAD = (
    update(SUBJECTS)
    .where(SUBJECTS.c.id == bindparam("subject_id"))
    .values(chain_length=bindparam("length"), chain_head=bindparam("head"))
)
READ_STATE = select(*[STATES.c[k] for k in STATE_COLUMNS]).where(
    STATES.c.subject_id == bindparam("subject_id"),
    STATES.c.controller == bindparam("controller"),
    STATES.c.purpose == bindparam("purpose"),
)

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
BATCH_CHECK = (
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
        & STATES.c.purpose.in_(bindparam("purposes", expanding=True)),
    )
    .where(IDENTITIES.c.value.in_(bindparam("values", expanding=True)))
)


def _upsert_state(dialect: str) -> Any:
    """Insert a state row, or replace it only with a decision at least as recent."""
    stmt = pg_insert(STATES) if dialect == "postgresql" else sqlite_insert(STATES)
    return stmt.on_conflict_do_update(
        index_elements=[STATES.c.subject_id, STATES.c.controller, STATES.c.purpose],
        set_={k: stmt.excluded[k] for k in ("status", "since", "event_id", "channel", "updated_at")},
        where=STATES.c.since <= stmt.excluded.since,
    ).returning(*[STATES.c[k] for k in STATE_COLUMNS])


UPSERT_STATE = PerDialect(_upsert_state)
EVENT_PARAMS = {c.name: bindparam(f"e_{c.name}", type_=c.type) for c in EVENTS.c if c.name != "seq"}


def _write_event_pg(*, logged: bool) -> Any:
    """PostgreSQL: the event, the subject's new chain head, the state upsert and (`logged`) the
    access-log row in one statement of data-modifying CTEs: one round trip instead of four."""
    event = insert(EVENTS).values(EVENT_PARAMS).cte("event")
    head = (
        update(SUBJECTS)
        .where(SUBJECTS.c.id == EVENT_PARAMS["subject_id"])
        .values(chain_length=EVENT_PARAMS["chain_seq"], chain_head=EVENT_PARAMS["hash"])
        .cte("head")
    )
    ctes = [event, head]
    if logged:
        values = {c.name: bindparam(f"a_{c.name}", type_=c.type) for c in ACCESS_LOG.c if c.name != "id"}
        ctes.append(insert(ACCESS_LOG).values(values).cte("access"))
    return _upsert_state("postgresql").add_cte(*ctes)


WRITE_EVENT_PG = {logged: _write_event_pg(logged=logged) for logged in (True, False)}


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str | None = None


@dataclass(frozen=True)
class Rejection:
    id: str
    reason: str
    message: str


@dataclass(frozen=True)
class ConsentOutcome:
    """What record_consent did: an event (new or replayed) or a recorded rejection."""

    event: ConsentEvent | None
    state: ConsentState | None
    created: bool
    rejection: Rejection | None = None
    logged: bool = False  # the `access` row was written with the event


@dataclass(frozen=True)
class ConsentCheck:
    allowed: bool
    status: str
    since: datetime | None
    event_id: str | None


@dataclass(frozen=True)
class LedgerProblem:
    """One break in a subject's chain, named at the first event (chain position) where it shows."""

    subject_id: str
    chain_seq: int | None  # position of the bad event, or of the missing one
    event_id: str | None  # the event stored there (None when it is missing)
    kind: Literal["altered", "unlinked", "misplaced", "inserted", "missing", "head_mismatch", "checkpoint"]
    detail: str

    def __str__(self) -> str:
        where = f"subject {self.subject_id}"
        if self.chain_seq is not None:
            where += f" event #{self.chain_seq}"
        if self.event_id is not None:
            where += f" ({self.event_id})"
        return f"{where}: {self.detail}"


@dataclass
class VerifyReport:
    subjects: int = 0
    events: int = 0
    findings: list[LedgerProblem] = field(default_factory=list)
    digest: str = ""
    incremental: bool = False  # chains continued from their checkpoints (see consent.checkpoints)
    resumed: int = 0  # chains whose verified part was not read again
    alerts: int = 0  # alert e-mails queued about this report (consent.checkpoints.verify_and_alert)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        """Every finding as a line of text, in verification order (subject id, chain position)."""
        return [str(f) for f in self.findings]

    @property
    def first_problem(self) -> LedgerProblem | None:
        """The first bad event: lowest subject id, then earliest chain position."""
        return self.findings[0] if self.findings else None


def _same_request(event: ConsentEvent, *, subject_id: str, purpose: str, action: str, channel: str) -> bool:
    return (event.subject_id, event.purpose, event.action, event.channel) == (
        subject_id,
        purpose,
        action,
        channel,
    )


def record_consent(
    *,
    session: Session,
    registry: PolicyRegistry,
    subject_id: str,
    controller: str,
    purpose: str,
    action: str,
    channel: str,
    actor: Actor,
    now: datetime,
    occurred_at: datetime | None = None,
    evidence: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    clock: Callable[[], datetime] | None = None,
    locked: Any = None,
    access: dict[str, Any] | None = None,
) -> ConsentOutcome:
    """Append one consent event and update the projection, or record why policy refused it.

    `clock`: for an event happening now (no `occurred_at`), the time is read again once this
    subject's lock is held, so two concurrent writers' events are in time order and ledger order
    alike (the later writer's decision is the current state and the latest at any instant).
    `locked`: the subject's row as `lock_subject` returned it (the lock is then already held).
    `access`: an access-log row (audit.service.access_row) to write with a new event, in the same
    statement on PostgreSQL; `outcome.logged` says whether it was written.
    """
    if action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", field="action")
    if channel not in CONSENT_CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CONSENT_CHANNELS)}", field="channel")
    policy = registry.policy_for(controller)
    purpose_def = registry.purpose(controller, purpose)
    if not purpose_def.needs_consent:
        raise InvalidInput(
            f"purpose {purpose!r} rests on {purpose_def.legal_basis}, not consent; there is nothing to grant or withdraw",
            field="purpose",
        )
    if channel not in purpose_def.consent_channels:
        raise InvalidInput(
            f"purpose {purpose!r} does not take consent over channel {channel!r} "
            f"(allowed: {', '.join(purpose_def.consent_channels)})",
            field="channel",
        )
    occurred = as_utc(occurred_at) if occurred_at is not None else now
    if occurred > now + MAX_CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future", field="occurred_at")

    # Serialise writers on this subject: the row lock (PostgreSQL) or the write lock taken by
    # BEGIN IMMEDIATE (SQLite) is held until the entrypoint commits.
    # Core statements on the tables, not the ORM entities: this is the hot path of every channel,
    # and the ORM's statement handling costs more than the database round trip here.
    conn = core_connection(session)
    head = locked
    if head is None:
        head = conn.execute(LOCK_HEAD, {"subject_id": subject_id, "controller": controller}).first()
    if head is None:
        raise NotFound("no such subject")
    if head.erased_at is not None:
        raise InvalidInput("this data subject has been erased", field="identity")
    if occurred_at is None and clock is not None:
        occurred = max(occurred, as_utc(clock()))

    if idempotency_key is not None:
        found = session.execute(BY_KEY, {"controller": controller, "key": idempotency_key}).first()
        prior = ConsentEvent(**found._asdict()) if found is not None else None
        if prior is not None:
            if not _same_request(
                prior, subject_id=subject_id, purpose=purpose, action=action, channel=channel
            ):
                raise Conflict("idempotency_key was already used for a different consent request")
            state = session.get(ConsentState, (subject_id, controller, purpose))
            return ConsentOutcome(event=prior, state=state, created=False)

    if action == "grant" and purpose_def.eligible_groups is not None:
        group = head.client_group
        if conn.dialect.name == "postgresql":
            # The locking statement may have waited for a group change (a leave locks the person
            # first) and still answers the join from the snapshot it took before waiting: read the
            # group again, in a statement of its own, now that the lock is held.
            group = conn.execute(GROUP_NOW, {"subject_id": subject_id, "controller": controller}).scalar()
        group = group or policy.default_client_group
        if group not in purpose_def.eligible_groups:
            return _reject(
                session=session,
                policy_groups={g.id: g.title.en for g in policy.client_groups},
                eligible=purpose_def.eligible_groups,
                purpose_title=purpose_def.title.en,
                group=group,
                row={
                    "subject_id": subject_id,
                    "controller": controller,
                    "purpose": purpose,
                    "action": action,
                    "channel": channel,
                    "occurred_at": occurred,
                    "evidence": dict(evidence or {}),
                },
            )

    fields: dict[str, Any] = {
        "id": new_id(),
        "subject_id": subject_id,
        "chain_seq": head.chain_length + 1,
        "controller": controller,
        "purpose": purpose,
        "action": action,
        "channel": channel,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "occurred_at": occurred,
        "recorded_at": now,
        "policy_id": policy.id,
        "policy_version": policy.version,
        "evidence": dict(evidence or {}),
        "idempotency_key": idempotency_key,
        "prev_hash": head.chain_head,
    }
    fields["hash"] = event_hash(fields)
    values = _state_values(fields, now)
    if conn.dialect.name == "postgresql":
        params = {**values, **{f"e_{k}": v for k, v in fields.items()}}
        if access is not None:
            params.update({f"a_{k}": v for k, v in {**access, "subject_id": subject_id}.items()})
        row = conn.execute(WRITE_EVENT_PG[access is not None], params).first()
    else:
        conn.execute(INSERT_EVENT, fields)
        conn.execute(
            ADVANCE_HEAD, {"subject_id": subject_id, "length": fields["chain_seq"], "head": fields["hash"]}
        )
        if access is not None:
            conn.execute(INSERT_ACCESS, {**access, "subject_id": subject_id})
        row = conn.execute(UPSERT_STATE(session), values).first()
    if row is None:  # the stored decision is newer: keep it
        row = conn.execute(READ_STATE, values).one()
    state = ConsentState(**row._asdict())
    return ConsentOutcome(event=ConsentEvent(**fields), state=state, created=True, logged=access is not None)


def _reject(
    *,
    session: Session,
    policy_groups: dict[str, str],
    eligible: list[str],
    purpose_title: str,
    group: str,
    row: dict[str, Any],
) -> ConsentOutcome:
    """Record a request the policy does not allow, with a reason a person can read."""
    allowed = ", ".join(policy_groups.get(g, g) for g in eligible)
    message = f"{purpose_title!r} may be given only by: {allowed}; this subject is in group {policy_groups.get(group, group)!r}"
    rejection_id = new_id()
    session.execute(
        insert(table(ConsentRejection)),
        [{**row, "id": rejection_id, "reason": "not_eligible", "message": message[:500]}],
    )
    return ConsentOutcome(
        event=None, state=None, created=False, rejection=Rejection(rejection_id, "not_eligible", message)
    )


def _state_values(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The current-state row a new event makes, for the upsert that brings the projection up
    to date. A back-dated event (e.g. a paper form entered late) joins the history but does not
    override a newer decision: the upsert only replaces an older `since`.
    """
    return {
        "subject_id": fields["subject_id"],
        "controller": fields["controller"],
        "purpose": fields["purpose"],
        "status": STATUS_OF[fields["action"]],
        "since": fields["occurred_at"],
        "event_id": fields["id"],
        "channel": fields["channel"],
        "updated_at": now,
    }


def lock_subject(*, session: Session, identity: Identity, controller: str) -> Any:
    """The subject holding `identity`, locked for a consent write (see record_consent's `locked`),
    or None if nobody holds it: the identity lookup and the lock in one round trip."""
    return (
        core_connection(session)
        .execute(LOCK_BY_IDENTITY, {"kind": identity.kind, "value": identity.value, "controller": controller})
        .first()
    )


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
        BATCH_CHECK,
        {
            "controller": controller,
            "purposes": sorted({purpose for _, purpose in pairs}),
            "values": sorted({identity.value for identity, _ in pairs}),
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


def current_states(*, session: Session, subject_id: str, controller: str | None = None) -> list[ConsentState]:
    """The projection rows for one subject."""
    stmt = select(ConsentState).where(ConsentState.subject_id == subject_id)
    if controller is not None:
        stmt = stmt.where(ConsentState.controller == controller)
    return list(session.scalars(stmt.order_by(ConsentState.controller, ConsentState.purpose)))


def history(*, session: Session, subject_id: str, controller: str | None = None) -> list[ConsentEvent]:
    """Every event of one subject, oldest first."""
    stmt = select(ConsentEvent).where(ConsentEvent.subject_id == subject_id)
    if controller is not None:
        stmt = stmt.where(ConsentEvent.controller == controller)
    return list(session.scalars(stmt.order_by(ConsentEvent.occurred_at, ConsentEvent.seq)))


def rejections(*, session: Session, subject_id: str, controller: str | None = None) -> list[ConsentRejection]:
    """Refused requests of one subject, oldest first."""
    stmt = select(ConsentRejection).where(ConsentRejection.subject_id == subject_id)
    if controller is not None:
        stmt = stmt.where(ConsentRejection.controller == controller)
    return list(session.scalars(stmt.order_by(ConsentRejection.occurred_at)))


def get_event(*, session: Session, event_id: str) -> ConsentEvent:
    event = session.scalar(select(ConsentEvent).where(ConsentEvent.id == event_id))
    if event is None:
        raise NotFound("no such consent event")
    return event


ChainEnd = Callable[[str, int, int | None, str | None, str | None, bool], object]


def check_chain(
    report: VerifyReport,
    subject_id: str,
    chain: Iterable[dict[str, Any]],
    *,
    recorded: tuple[int, str | None] | None,
    start: tuple[int, int | None, str | None, str | None] = (0, None, None, None),
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int | None, str | None, str | None]:
    """Verify one subject's events in chain order (all, or those after `start`); findings go to
    `report`. `recorded` is the subject's (chain_length, chain_head), None if it records no chain;
    `start` is (chain_seq, event seq, event id, hash) of an already verified event to continue
    from. Returns the same for the chain's last event."""
    found = report.findings.append
    first_finding = len(report.findings)
    length = recorded[0] if recorded is not None else 0
    expected_seq, prev, last_id, last_global, beyond = start[0] + 1, start[3], start[2], start[1], False
    order: list[tuple[int, str]] = []  # (position, id) of this chain's events so far
    index_of: dict[str | None, int] = {prev: -1}  # hash -> index in `order`; -1: where we started
    start_name = "the start of the chain" if start[0] == 0 else f"the verified checkpoint #{start[0]}"
    for fields in chain:
        report.events += 1
        seq, event_id = fields["chain_seq"], fields["id"]
        if seq != expected_seq:
            gap = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}..#{seq - 1}"
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "misplaced",
                    f"expected position {expected_seq}: event {gap} was removed, or this event was moved",
                )
            )
            expected_seq = seq
        if fields["prev_hash"] != prev:
            earlier = index_of.get(fields["prev_hash"])
            if earlier is not None and earlier + 1 < len(order):
                # it links to an older event: the ones after that were put in
                put_seq, put_id = order[earlier + 1]
                target = f"#{order[earlier][0]}" if earlier >= 0 else start_name
                found(
                    LedgerProblem(
                        subject_id,
                        put_seq,
                        put_id,
                        "inserted",
                        f"inserted: the event after it, #{seq} ({event_id}), links past it to {target}",
                    )
                )
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "unlinked",
                    "does not link to the previous event's hash (an event was removed, altered or reordered)",
                )
            )
        if event_hash(fields) != fields["hash"]:
            found(
                LedgerProblem(
                    subject_id, seq, event_id, "altered", "content does not match its hash (altered)"
                )
            )
        if seq > length and not beyond:
            beyond = True
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "inserted",
                    (
                        f"beyond the {length} event(s) the subject records"
                        if length
                        else "the subject records no chain"
                    )
                    + " (inserted, or the subject's chain length was changed)",
                )
            )
        prev, last_id, last_global = fields["hash"], event_id, fields.get("seq")
        index_of[prev] = len(order)
        order.append((seq, event_id))
        expected_seq += 1
        if progress is not None and report.events % 10000 == 0:
            progress(report.events)
    report.subjects += 1
    last_seq = expected_seq - 1
    if recorded is not None:
        if last_seq < recorded[0]:
            found(
                LedgerProblem(
                    subject_id,
                    last_seq + 1,
                    None,
                    "missing",
                    f"missing: the subject records {recorded[0]} events but the chain ends "
                    f"at #{last_seq} (removed from the end)",
                )
            )
        elif not beyond and recorded[1] != prev:
            found(
                LedgerProblem(
                    subject_id,
                    last_seq,
                    last_id,
                    "head_mismatch",
                    "the last event's hash does not match the subject's recorded chain head "
                    "(this event was replaced, or the chain head was changed)",
                )
            )
    if len(report.findings) - first_finding > 1:  # in chain order (an insertion is seen one event late)
        report.findings[first_finding:] = sorted(
            report.findings[first_finding:], key=lambda f: f.chain_seq or 0
        )
    return last_seq, last_global, last_id, prev


VERIFY_COLUMNS = (*CHAINED_FIELDS, "hash", "seq")


def verify_ledger(
    *,
    session: Session,
    progress: Callable[[int], object] | None = None,
    on_chain: ChainEnd | None = None,
) -> VerifyReport:
    """Recompute every chain; report altered, removed, inserted or reordered events.

    Subjects and events are read as two ordered streams and merged, so memory stays flat
    however large the ledger. Findings come in order (subject id, chain position), each naming
    the subject, the chain position and the event id, so `first_problem` is the first bad event.
    `progress`, if given, is called with the events checked so far; `on_chain`, if given, with
    (subject id, last chain position, its event seq, event id, hash, ok) after each chain.
    """
    report = VerifyReport()
    found = report.findings.append
    digest = hashlib.sha256()
    heads = session.execute(
        select(Subject.id, Subject.chain_length, Subject.chain_head)
        .where(Subject.chain_length > 0)
        .order_by(Subject.id)
        .execution_options(yield_per=5000)
    )
    cols = [getattr(ConsentEvent, name) for name in VERIFY_COLUMNS]
    events = session.execute(
        select(*cols)
        .order_by(ConsentEvent.subject_id, ConsentEvent.chain_seq)
        .execution_options(yield_per=5000)
    )

    def chain_without_events(head: Any) -> None:
        found(
            LedgerProblem(
                head.id,
                1,
                None,
                "missing",
                f"missing: the subject records {head.chain_length} events but none exist (all removed)",
            )
        )
        if on_chain is not None:
            on_chain(head.id, 0, None, None, None, False)

    head = next(heads, None)
    for subject_id, chain in groupby((row._asdict() for row in events), key=lambda f: f["subject_id"]):
        while head is not None and head.id < subject_id:
            chain_without_events(head)
            head = next(heads, None)
        recorded = head if head is not None and head.id == subject_id else None
        before = len(report.findings)
        last_seq, last_global, last_id, prev = check_chain(
            report,
            subject_id,
            chain,
            recorded=None if recorded is None else (recorded.chain_length, recorded.chain_head),
            progress=progress,
        )
        if recorded is not None:
            head = next(heads, None)
        if on_chain is not None:
            on_chain(subject_id, last_seq, last_global, last_id, prev, len(report.findings) == before)
        digest.update(f"{subject_id}:{prev}\n".encode())
    while head is not None:
        chain_without_events(head)
        head = next(heads, None)
    report.digest = digest.hexdigest()
    if progress is not None:
        progress(report.events)
    return report
