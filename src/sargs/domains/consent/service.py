"""Recording consent events and answering "was consent valid at t?" (verification: consent.verify)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sargs.core.clock import as_utc
from sargs.core.db import PerDialect, core_connection, table
from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.ids import new_id
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.consent.chain import seal
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
    seal(fields)  # hash version and hash (consent.chain)
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
