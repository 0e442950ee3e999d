"""Registering, assessing, notifying and closing breaches, each step kept in an append-only trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from sargs.core.clock import as_utc
from sargs.core.db import table
from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.ids import new_id
from sargs.domains.access.principal import Principal
from sargs.domains.breaches.deadlines import (
    BREACH_TYPES,
    BreachClock,
    check_close,
    check_exemption,
    check_filing,
    check_reasoning,
    clock,
)
from sargs.domains.breaches.model import Breach, BreachChange, BreachNotification
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy

# Art. 33(3) fields a breach record holds and `update_breach` may change.
EDITABLE: tuple[str, ...] = (
    "title",
    "nature",
    "breach_types",
    "aware_at",
    "occurred_at",
    "data_categories",
    "subject_categories",
    "approx_subjects",
    "approx_records",
    "consequences",
    "measures",
    "affected_tables",
)
CLOCK_SKEW = timedelta(minutes=5)
_PHASE_ORDER = case({"initial": 0, "follow_up": 1, "final": 2}, value=BreachNotification.phase, else_=3)
MAX_TEXT = 20_000


@dataclass(frozen=True)
class NotificationView:
    id: str
    phase: str
    filed_at: datetime
    late: bool
    delay_reasons: str | None
    authority_reference: str | None
    filed_by: str


@dataclass(frozen=True)
class ChangeView:
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class BreachView:
    """A breach as read: its record, its clock and (when asked for) notifications and trail."""

    id: str
    controller: str
    policy_id: str
    policy_version: str
    title: str
    status: str
    aware_at: datetime
    occurred_at: datetime | None
    nature: str
    breach_types: list[str]
    data_categories: list[str]
    subject_categories: list[str]
    approx_subjects: int | None
    approx_records: int | None
    consequences: str
    measures: str
    affected_tables: list[str]
    risk: str | None
    risk_reasoning: str | None
    assessed_at: datetime | None
    exemption_ground: str | None
    exemption_reason: str | None
    subjects_notified: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    clock: BreachClock
    notifications: list[NotificationView] = field(default_factory=list)
    changes: list[ChangeView] = field(default_factory=list)

    @property
    def phases(self) -> list[str]:
        return [n.phase for n in self.notifications]

    @property
    def subjects_handled(self) -> bool:
        return self.subjects_notified > 0 or self.exemption_ground is not None


def actor_of(principal: Principal) -> str:
    """How a principal is named in the trail: 'staff:<id>' or 'token:<id>' (no names, no e-mail)."""
    return f"{principal.kind}:{principal.id}"


def _hours(policy: Policy) -> int:
    return policy.deadlines.breach_notification_hours


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _text(name: str, value: Any, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{name} is required", field=name)
    if len(text) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    return text


def _ids(name: str, value: Any, known: set[str], what: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of ids", field=name)
    for v in value:
        if v not in known:
            raise InvalidInput(f"unknown {what} {v!r} (known: {', '.join(sorted(known))})", field=name)
    return list(dict.fromkeys(value))


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10**10:
        raise InvalidInput(f"{name} must be a whole number of at least 0", field=name)
    return value


def _when(name: str, value: Any, now: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidInput(f"{name} must be a date and time", field=name)
    at = as_utc(value)
    if at > now + CLOCK_SKEW:
        raise InvalidInput(f"{name} is in the future", field=name)
    return at


def affected_table_names(policy: Policy, controller: str) -> set[str]:
    """'source.table' for every declared table of this controller's data sources."""
    return {
        f"{s.id}.{t.name}"
        for s in policy.data_sources
        if s.controllers is None or controller in s.controllers
        for t in s.tables
    }


def _clean(policy: Policy, controller: str, values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Validated values for the given fields; each bad one is InvalidInput naming it."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "title":
            out[name] = _text(name, value, required=True, limit=200)
        elif name == "nature":
            out[name] = _text(name, value, required=True)
        elif name in ("consequences", "measures"):
            out[name] = _text(name, value or "")
        elif name == "aware_at":
            out[name] = _when(name, value, now)
        elif name == "occurred_at":
            out[name] = None if value is None else _when(name, value, now)
        elif name == "breach_types":
            out[name] = _ids(name, value, set(BREACH_TYPES), "breach type")
        elif name == "data_categories":
            out[name] = _ids(name, value, {c.id for c in policy.data_categories}, "data category")
        elif name == "subject_categories":
            out[name] = _ids(name, value, {g.id for g in policy.client_groups}, "client group")
        elif name in ("approx_subjects", "approx_records"):
            out[name] = _count(name, value)
        elif name == "affected_tables":
            out[name] = _ids(name, value, affected_table_names(policy, controller), "data-source table")
    return out


def _check_times(aware_at: datetime, occurred_at: datetime | None) -> None:
    if occurred_at is not None and occurred_at > aware_at:
        raise InvalidInput(
            "the breach cannot have occurred after the controller became aware of it", field="occurred_at"
        )


def _trail(
    session: Session, *, breach_id: str, actor: str, action: str, changes: dict[str, Any], now: datetime
) -> None:
    session.execute(
        insert(table(BreachChange)),
        {
            "breach_id": breach_id,
            "at": now,
            "actor": actor,
            "action": action,
            "changes": {k: _json_safe(v) for k, v in changes.items()},
        },
    )


def _visible(session: Session, *, breach_id: str, by: Principal, lock: bool = False) -> Breach:
    stmt = select(Breach).where(Breach.id == breach_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None or not by.may_see(row.controller):
        raise NotFound("no breach with this id")
    return row


def _notifications(session: Session, breach_id: str) -> list[NotificationView]:
    rows = session.scalars(
        select(BreachNotification)
        .where(BreachNotification.breach_id == breach_id)
        .order_by(BreachNotification.filed_at, _PHASE_ORDER, BreachNotification.id)
    )
    return [
        NotificationView(
            r.id, r.phase, r.filed_at, r.late, r.delay_reasons, r.authority_reference, r.filed_by
        )
        for r in rows
    ]


def _view(
    row: Breach,
    *,
    registry: PolicyRegistry,
    now: datetime,
    notifications: list[NotificationView],
    changes: list[ChangeView] | None = None,
) -> BreachView:
    hours = _hours(registry.policy_for(row.controller))
    first = next((n.filed_at for n in notifications if n.phase == "initial"), None)
    return BreachView(
        id=row.id,
        controller=row.controller,
        policy_id=row.policy_id,
        policy_version=row.policy_version,
        title=row.title,
        status=row.status,
        aware_at=row.aware_at,
        occurred_at=row.occurred_at,
        nature=row.nature,
        breach_types=list(row.breach_types),
        data_categories=list(row.data_categories),
        subject_categories=list(row.subject_categories),
        approx_subjects=row.approx_subjects,
        approx_records=row.approx_records,
        consequences=row.consequences,
        measures=row.measures,
        affected_tables=list(row.affected_tables),
        risk=row.risk,
        risk_reasoning=row.risk_reasoning,
        assessed_at=row.assessed_at,
        exemption_ground=row.exemption_ground,
        exemption_reason=row.exemption_reason,
        subjects_notified=row.subjects_notified,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        clock=clock(aware_at=row.aware_at, hours=hours, now=now, risk=row.risk, first_filed_at=first),
        notifications=notifications,
        changes=changes or [],
    )


def register_breach(
    *,
    session: Session,
    registry: PolicyRegistry,
    controller: str,
    values: Mapping[str, Any],
    by: Principal,
    now: datetime,
) -> BreachView:
    """Register a breach (status open); `values` are the EDITABLE fields, title, nature and aware_at required."""
    by.require_controller(controller)
    policy = registry.policy_for(controller)
    for name in ("title", "nature", "aware_at"):
        if values.get(name) in (None, ""):
            raise InvalidInput(f"{name} is required", field=name)
    clean = _clean(policy, controller, values, now)
    _check_times(clean["aware_at"], clean.get("occurred_at"))
    row = Breach(
        id=new_id(),
        controller=controller,
        policy_id=policy.id,
        policy_version=policy.version,
        status="open",
        breach_types=[],
        data_categories=[],
        subject_categories=[],
        affected_tables=[],
        consequences="",
        measures="",
        subjects_notified=0,
        created_at=now,
        updated_at=now,
    )
    for name, value in clean.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    _trail(session, breach_id=row.id, actor=actor_of(by), action="register", changes=clean, now=now)
    return _view(row, registry=registry, now=now, notifications=[])


def update_breach(
    *,
    session: Session,
    registry: PolicyRegistry,
    breach_id: str,
    values: Mapping[str, Any],
    by: Principal,
    now: datetime,
) -> BreachView:
    """Change Art. 33(3) fields of a breach that is not closed; the trail keeps old and new values."""
    row = _visible(session, breach_id=breach_id, by=by, lock=True)
    if row.status == "closed":
        raise Conflict("a closed breach cannot be changed", field="status")
    clean = _clean(registry.policy_for(row.controller), row.controller, values, now)
    _check_times(clean.get("aware_at", row.aware_at), clean.get("occurred_at", row.occurred_at))
    if (
        "aware_at" in clean
        and clean["aware_at"] != row.aware_at
        and session.scalar(
            select(func.count()).select_from(BreachNotification).where(BreachNotification.breach_id == row.id)
        )
    ):
        raise Conflict(
            "the time of awareness cannot change once the authority was notified", field="aware_at"
        )
    diff = {
        name: {"from": _json_safe(getattr(row, name)), "to": _json_safe(value)}
        for name, value in clean.items()
        if getattr(row, name) != value
    }
    for name, value in clean.items():
        setattr(row, name, value)
    if diff:
        row.updated_at = now
        _trail(session, breach_id=row.id, actor=actor_of(by), action="update", changes=diff, now=now)
    session.flush()
    return _view(row, registry=registry, now=now, notifications=_notifications(session, row.id))


def assess_breach(
    *,
    session: Session,
    registry: PolicyRegistry,
    breach_id: str,
    risk: str,
    reasoning: str,
    by: Principal,
    now: datetime,
) -> BreachView:
    """Record the risk assessment (none / risk / high) with its reasoning; open becomes assessed."""
    row = _visible(session, breach_id=breach_id, by=by, lock=True)
    if row.status == "closed":
        raise Conflict("a closed breach cannot be re-assessed", field="status")
    text = check_reasoning(risk=risk, reasoning=reasoning)
    notifications = _notifications(session, row.id)
    if risk == "none" and notifications:
        raise Conflict("the authority was already notified; the risk cannot be lowered to none", field="risk")
    changes = {"risk": {"from": row.risk, "to": risk}, "reasoning": text}
    row.risk, row.risk_reasoning, row.assessed_at, row.updated_at = risk, text, now, now
    if row.status == "open":
        row.status = "assessed"
    session.flush()
    _trail(session, breach_id=row.id, actor=actor_of(by), action="assess", changes=changes, now=now)
    return _view(row, registry=registry, now=now, notifications=notifications)


def file_notification(
    *,
    session: Session,
    registry: PolicyRegistry,
    breach_id: str,
    phase: str,
    by: Principal,
    now: datetime,
    content: dict[str, Any],
    filed_at: datetime | None = None,
    delay_reasons: str | None = None,
    authority_reference: str | None = None,
) -> NotificationView:
    """Record a notification filed with the authority (initial, follow_up, final) and what it said.

    Late initial filings need the reasons for the delay; the initial filing makes the breach notified."""
    row = _visible(session, breach_id=breach_id, by=by, lock=True)
    if row.status == "closed":
        raise Conflict("the breach is closed", field="status")
    at = _when("filed_at", filed_at or now, now)
    earlier = [n.phase for n in _notifications(session, row.id)]
    late = check_filing(
        aware_at=row.aware_at,
        hours=_hours(registry.policy_for(row.controller)),
        filed_at=at,
        phase=phase,
        earlier_phases=earlier,
        risk=row.risk,
        delay_reasons=delay_reasons,
    )
    reference = _text("authority_reference", authority_reference or "", limit=120) or None
    reasons = (delay_reasons or "").strip() or None
    if reasons is not None:
        reasons = _text("delay_reasons", reasons)
    note = BreachNotification(
        id=new_id(),
        breach_id=row.id,
        phase=phase,
        filed_at=at,
        late=late,
        delay_reasons=reasons,
        authority_reference=reference,
        content=content,
        filed_by=actor_of(by),
    )
    session.add(note)
    if row.status == "assessed":
        row.status = "notified"
    row.updated_at = now
    session.flush()
    _trail(
        session,
        breach_id=row.id,
        actor=actor_of(by),
        action="notify",
        changes={
            "phase": phase,
            "filed_at": at,
            "late": late,
            "delay_reasons": reasons,
            "reference": reference,
        },
        now=now,
    )
    return NotificationView(note.id, phase, at, late, reasons, reference, note.filed_by)


def record_exemption(
    *,
    session: Session,
    registry: PolicyRegistry,
    breach_id: str,
    ground: str,
    explanation: str,
    by: Principal,
    now: datetime,
) -> BreachView:
    """Record why the people concerned need not be told (Art. 34(3)(a)-(c)) for a high-risk breach."""
    row = _visible(session, breach_id=breach_id, by=by, lock=True)
    if row.status == "closed":
        raise Conflict("the breach is closed", field="status")
    if row.risk != "high":
        raise Conflict(
            "only a high-risk breach needs the people concerned told (or an exemption)", field="risk"
        )
    text = check_exemption(ground=ground, explanation=explanation)
    row.exemption_ground, row.exemption_reason, row.updated_at = ground, text, now
    session.flush()
    _trail(
        session,
        breach_id=row.id,
        actor=actor_of(by),
        action="exemption",
        changes={"ground": ground, "explanation": text},
        now=now,
    )
    return _view(row, registry=registry, now=now, notifications=_notifications(session, row.id))


def close_breach(
    *, session: Session, registry: PolicyRegistry, breach_id: str, by: Principal, now: datetime
) -> BreachView:
    """Close a breach once assessed, notified when needed, and (high risk) people told or exempted."""
    row = _visible(session, breach_id=breach_id, by=by, lock=True)
    notifications = _notifications(session, row.id)
    check_close(
        status=row.status,
        risk=row.risk,
        phases=[n.phase for n in notifications],
        subjects_handled=row.subjects_notified > 0 or row.exemption_ground is not None,
    )
    changes = {"status": {"from": row.status, "to": "closed"}}
    row.status, row.closed_at, row.updated_at = "closed", now, now
    session.flush()
    _trail(session, breach_id=row.id, actor=actor_of(by), action="close", changes=changes, now=now)
    return _view(row, registry=registry, now=now, notifications=notifications)


def get_breach(
    *, session: Session, registry: PolicyRegistry, breach_id: str, by: Principal, now: datetime
) -> BreachView:
    """One breach with its notifications and its whole trail; NotFound outside the caller's scope."""
    row = _visible(session, breach_id=breach_id, by=by)
    changes = [
        ChangeView(c.at, c.actor, c.action, dict(c.changes))
        for c in session.scalars(
            select(BreachChange).where(BreachChange.breach_id == row.id).order_by(BreachChange.id)
        )
    ]
    return _view(
        row, registry=registry, now=now, notifications=_notifications(session, row.id), changes=changes
    )


def list_breaches(
    *,
    session: Session,
    registry: PolicyRegistry,
    by: Principal,
    now: datetime,
    status: Sequence[str] | None = None,
    limit: int = 200,
) -> list[BreachView]:
    """Breaches of the caller's controllers, newest awareness first (closed ones only if asked for)."""
    stmt = select(Breach).order_by(Breach.aware_at.desc(), Breach.id).limit(limit)
    if by.controllers is not None:
        stmt = stmt.where(Breach.controller.in_(by.controllers))
    if status:
        stmt = stmt.where(Breach.status.in_(list(status)))
    rows = list(session.scalars(stmt))
    filed: dict[str, list[NotificationView]] = {r.id: [] for r in rows}
    if rows:
        for n in session.scalars(
            select(BreachNotification)
            .where(BreachNotification.breach_id.in_(list(filed)))
            .order_by(BreachNotification.filed_at, _PHASE_ORDER, BreachNotification.id)
        ):
            filed[n.breach_id].append(
                NotificationView(
                    n.id, n.phase, n.filed_at, n.late, n.delay_reasons, n.authority_reference, n.filed_by
                )
            )
    return [
        _view(r, registry=registry, now=now, notifications=filed[r.id])
        for r in rows
        if r.controller in registry.controller_ids
    ]
