"""Rights requests: intake, verification, holds, repeat decisions, extensions, decisions, listing
and reminders (R-DSR-1..4). Services never commit: the entrypoint owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.ids import new_id
from sargs.domains.consent.service import Actor, current_states, record_consent
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrCallback, DsrEvent, DsrRequest
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.identifiers import Identity, parse_identity
from sargs.domains.subjects.model import SubjectIdentity
from sargs.domains.subjects.service import find_subject_id

EVENTS = table(DsrEvent)
STAFF_CONSENT_CHANNEL = {
    "portal": "portal",
    "in_person": "staff",
    "post": "post",
    "representative": "staff",
    "email": "staff",
    "api": "api",
}


@dataclass(frozen=True)
class DsrActor:
    """Who acts on a request: staff, a token, the person (portal) or the system."""

    kind: str
    id: str | None

    def consent_actor(self) -> Actor:
        kinds = {"staff": "staff", "token": "token", "subject": "subject"}
        return Actor(kinds.get(self.kind, "system"), self.id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Intake:
    """What a request says when it arrives (retailer 3.4.1) and through which channel."""

    controller: str
    kind: str
    channel: str
    identities: list[Identity]
    requester: dict[str, Any]
    details: str = ""
    ground: str | None = None
    purposes: tuple[str, ...] = ()
    language: str = "lv"
    representative: dict[str, Any] | None = None
    subject_id: str | None = None
    external_id: str | None = None
    callback_urls: tuple[str, ...] = ()


def log_event(
    *,
    session: Session,
    request: DsrRequest,
    actor: DsrActor,
    action: str,
    now: datetime,
    to_status: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one row to the request's trail (Core insert: the trail is append-only)."""
    session.execute(
        insert(EVENTS),
        {
            "request_id": request.id,
            "at": now,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "from_status": request.status,
            "to_status": to_status or request.status,
            "reason": reason,
            "data": data or {},
        },
    )


def _move(
    *,
    session: Session,
    request: DsrRequest,
    target: str,
    actor: DsrActor,
    now: datetime,
    action: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    wf.check_transition(request.status, target)
    log_event(
        session=session,
        request=request,
        actor=actor,
        action=action,
        now=now,
        to_status=target,
        reason=reason,
        data=data,
    )
    old = wf.opendsr_status(request.status)
    request.status = target
    if target in wf.FINAL:
        request.closed_at = now
        request.lease_owner = None
        request.lease_until = None
    if wf.opendsr_status(target) != old:
        queue_callbacks(session=session, request=request, now=now)
    session.flush()


def queue_callbacks(*, session: Session, request: DsrRequest, now: datetime) -> None:
    """One callback per registered URL with the request's OpenDSR status (delivered by the outbox)."""
    for url in request.callback_urls or []:
        session.add(
            DsrCallback(
                id=new_id(),
                request_id=request.id,
                url=url,
                payload=opendsr_view(request),
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def opendsr_view(request: DsrRequest) -> dict[str, Any]:
    """The request as an OpenDSR status object."""
    return {
        "controller_id": request.controller,
        "subject_request_id": request.external_id or request.id,
        "request_status": wf.opendsr_status(request.status),
        "expected_completion_time": request.due_at.isoformat(),
        "received_time": request.received_at.isoformat(),
        "api_version": "1.0",
    }


def file_request(
    *, session: Session, registry: PolicyRegistry, intake: Intake, actor: DsrActor, now: datetime
) -> DsrRequest:
    """Record a request. Checks its kind, ground and channel, sets the due date, flags a repeat;
    an objection to direct marketing withdraws the marketing consents in this same transaction."""
    policy = registry.policy_for(intake.controller)
    if intake.kind not in wf.KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(wf.KINDS)}", field="kind")
    if intake.channel not in wf.CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(wf.CHANNELS)}", field="channel")
    ground = intake.ground or None
    if intake.kind == "erasure":
        if ground not in wf.ERASURE_GROUNDS:
            raise InvalidInput(
                f"an erasure request names its ground: {', '.join(wf.ERASURE_GROUNDS)}", field="ground"
            )
    elif intake.kind == "objection":
        if ground not in wf.OBJECTION_SCOPES:
            raise InvalidInput(f"an objection is to {' or '.join(wf.OBJECTION_SCOPES)}", field="ground")
    else:
        ground = None
    if intake.language not in ("lv", "en"):
        raise InvalidInput("language is lv or en", field="language")
    purposes = list(dict.fromkeys(intake.purposes))
    for p in purposes:
        registry.purpose(intake.controller, p)
    subject_id = intake.subject_id
    for ident in intake.identities:
        found = find_subject_id(session=session, identity=ident)
        if subject_id is None:
            subject_id = found
    # Only what the requester gave: the person's other identifiers may be held by other companies
    # of the group, which this company's staff must not see (R-POL-2).
    identities = list(dict.fromkeys(str(i) for i in intake.identities))
    if not identities:
        raise InvalidInput("name at least one phone, e-mail or customer number", field="identity")
    requester = {
        k: (str(v).strip()[:500] if not isinstance(v, bool) else v) for k, v in intake.requester.items()
    }
    due = wf.due_date(received_at=now, kind=intake.kind, ground=ground, deadlines=policy.deadlines)
    request = DsrRequest(
        id=new_id(),
        controller=intake.controller,
        subject_id=subject_id,
        kind=intake.kind,
        ground=ground,
        purposes=purposes,
        details=intake.details.strip()[:4000],
        channel=intake.channel,
        language=intake.language,
        status="received",
        identities=identities,
        requester=requester,
        representative=intake.representative,
        received_at=now,
        first_due_at=due,
        due_at=due,
        external_id=intake.external_id,
        callback_urls=list(intake.callback_urls),
        created_by=f"{actor.kind}:{actor.id}" if actor.id else actor.kind,
    )
    if subject_id is not None:
        previous = session.execute(
            select(DsrRequest.id, DsrRequest.received_at).where(
                DsrRequest.subject_id == subject_id,
                DsrRequest.controller == intake.controller,
                DsrRequest.kind == intake.kind,
                DsrRequest.status != "cancelled",
            )
        ).all()
        if wf.is_repeat(
            previous_received=[r.received_at for r in previous], received_at=now, deadlines=policy.deadlines
        ):
            request.repeat_of = max(previous, key=lambda r: r.received_at).id
    session.add(request)
    session.flush()
    log_event(
        session=session,
        request=request,
        actor=actor,
        action="received",
        now=now,
        data={"channel": intake.channel, "repeat_of": request.repeat_of},
    )
    if wf.is_marketing_objection(intake.kind, ground) and subject_id is not None:
        withdrawn = withdraw_consents(
            session=session,
            registry=registry,
            request=request,
            actor=actor,
            now=now,
            direct_marketing_only=True,
        )
        log_event(
            session=session,
            request=request,
            actor=actor,
            action="marketing_stopped",
            now=now,
            data={"withdrawn": withdrawn},
        )
    queue_callbacks(session=session, request=request, now=now)
    return request


def withdraw_consents(
    *,
    session: Session,
    registry: PolicyRegistry,
    request: DsrRequest,
    actor: DsrActor,
    now: datetime,
    direct_marketing_only: bool,
) -> list[str]:
    """Withdraw the person's granted consents at the request's controller through the consent
    service: every direct-marketing purpose, or the purposes the request names (all if none)."""
    if request.subject_id is None:
        return []
    withdrawn = []
    for state in current_states(
        session=session, subject_id=request.subject_id, controller=request.controller
    ):
        if state.status != "granted":
            continue
        purpose = registry.purpose(request.controller, state.purpose)
        if direct_marketing_only and not purpose.direct_marketing:
            continue
        if not direct_marketing_only and request.purposes and state.purpose not in request.purposes:
            continue
        preferred = STAFF_CONSENT_CHANNEL[request.channel]
        channels = purpose.consent_channels
        channel = preferred if preferred in channels else ("portal" if "portal" in channels else channels[0])
        record_consent(
            session=session,
            registry=registry,
            subject_id=request.subject_id,
            controller=request.controller,
            purpose=state.purpose,
            action="withdraw",
            channel=channel,
            actor=actor.consent_actor(),
            now=now,
            evidence={"dsr_request": request.id, "request_channel": request.channel},
        )
        withdrawn.append(state.purpose)
    return withdrawn


def get_request(
    *, session: Session, request_id: str, controllers: tuple[str, ...] | None = None
) -> DsrRequest:
    """One request; outside the caller's controllers it does not exist."""
    request = session.get(DsrRequest, request_id)
    if request is None or (controllers is not None and request.controller not in controllers):
        raise NotFound("no such request")
    return request


def lock_request(
    *, session: Session, request_id: str, controllers: tuple[str, ...] | None = None
) -> DsrRequest:
    """The request, locked for update until the transaction ends (two clerks never cross)."""
    request = session.scalar(select(DsrRequest).where(DsrRequest.id == request_id).with_for_update())
    if request is None or (controllers is not None and request.controller not in controllers):
        raise NotFound("no such request")
    return request


def missing_of(request: DsrRequest) -> list[str]:
    return wf.missing_content(
        channel=request.channel, requester=request.requester, kind=request.kind, details=request.details
    )


def complete_content(
    *,
    session: Session,
    request: DsrRequest,
    requester: dict[str, Any],
    details: str | None,
    actor: DsrActor,
    now: datetime,
) -> None:
    """Add what the requester later supplied (name, address, contact, signature, details)."""
    merged = dict(request.requester)
    for k, v in requester.items():
        if v not in (None, ""):
            merged[k] = v if isinstance(v, bool) else str(v).strip()[:500]
    request.requester = merged
    if details is not None and details.strip():
        request.details = details.strip()[:4000]
    log_event(session=session, request=request, actor=actor, action="content_completed", now=now)
    if request.status == "on_hold" and not missing_of(request):
        _move(session=session, request=request, target="received", actor=actor, now=now, action="resumed")
    session.flush()


def hold(*, session: Session, request: DsrRequest, message: str, actor: DsrActor, now: datetime) -> None:
    """Put an incomplete request on hold with a message to the requester (what is missing)."""
    if len(message.strip()) < 4:
        raise InvalidInput("write the message the requester gets", field="message")
    request.hold_message = message.strip()[:2000]
    _move(
        session=session,
        request=request,
        target="on_hold",
        actor=actor,
        now=now,
        action="on_hold",
        reason=request.hold_message,
        data={"missing": missing_of(request)},
    )


def verify_identity(
    *,
    session: Session,
    request: DsrRequest,
    method: str,
    evidence: dict[str, Any],
    actor: DsrActor,
    now: datetime,
) -> None:
    """Record how the requester's identity was checked; required content must be complete."""
    missing = missing_of(request)
    if missing:
        raise Conflict(
            f"the request lacks required content (retailer 3.4.1): {', '.join(missing)}", field=missing[0]
        )
    clean = wf.check_evidence(channel=request.channel, method=method, evidence=evidence)
    request.verification = {
        "method": method,
        "evidence": clean,
        "checked_by": actor.id,
        "at": now.isoformat(),
    }
    if method == "authorisation":
        request.representative = {
            k: clean[k]
            for k in clean
            if k.startswith("representative") or k in ("registration_number", "document")
        }
    _move(
        session=session,
        request=request,
        target="verified",
        actor=actor,
        now=now,
        action="verified",
        data={"method": method, "evidence": clean},
    )


def decide_repeat(
    *,
    session: Session,
    request: DsrRequest,
    decision: str,
    fee: str | None,
    reason: str | None,
    actor: DsrActor,
    now: datetime,
) -> None:
    """The DPO's decision on a flagged repeat request (retailer 3.6); refusal closes it."""
    if request.repeat_of is None:
        raise Conflict("this request is not a repeat request", field="decision")
    if request.status in wf.FINAL:
        raise Conflict(f"the request is already {request.status}", field="decision")
    request.repeat_decision = {**wf.check_repeat_decision(decision, fee=fee, reason=reason), "by": actor.id}
    log_event(
        session=session,
        request=request,
        actor=actor,
        action="repeat_decision",
        now=now,
        reason=reason,
        data=request.repeat_decision,
    )
    if decision == "refuse":
        _move(
            session=session,
            request=request,
            target="refused",
            actor=actor,
            now=now,
            action="refused",
            reason=reason,
        )
        request.decision = {"outcome": "refused", "text": reason}
    session.flush()


def start_work(*, session: Session, request: DsrRequest, actor: DsrActor, now: datetime) -> None:
    """verified -> in progress: only after identity verification and any repeat decision."""
    if request.status == "in_progress":
        return
    if request.verification is None or request.status != "verified":
        raise Conflict("work cannot start before the requester's identity is verified", field="status")
    if request.repeat_of is not None and request.repeat_decision is None:
        raise Conflict(
            "a repeat request needs the DPO's decision (fee, free or refusal) first", field="decision"
        )
    _move(session=session, request=request, target="in_progress", actor=actor, now=now, action="started")


def extend_deadline(
    *,
    session: Session,
    registry: PolicyRegistry,
    request: DsrRequest,
    days: int,
    reason: str,
    notice: str,
    actor: DsrActor,
    now: datetime,
) -> None:
    """Extend the due date (reason recorded, requester told before the first deadline)."""
    if request.status in wf.FINAL:
        raise Conflict(f"the request is already {request.status}", field="days")
    if wf.is_marketing_objection(request.kind, request.ground):
        raise Conflict("an objection to direct marketing cannot be extended (R 3.7)", field="days")
    deadlines = registry.policy_for(request.controller).deadlines
    due, ext = wf.extend(
        first_due_at=request.first_due_at,
        current=request.extension,
        days=days,
        reason=reason,
        notice=notice,
        now=now,
        deadlines=deadlines,
    )
    request.due_at = due
    request.extension = ext.as_json()
    log_event(
        session=session,
        request=request,
        actor=actor,
        action="extended",
        now=now,
        reason=ext.reason,
        data=ext.as_json(),
    )
    session.flush()


def close(
    *,
    session: Session,
    request: DsrRequest,
    outcome: str,
    text: str,
    actor: DsrActor,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record the decision and close the request: fulfilled, partially fulfilled or refused."""
    if outcome not in ("fulfilled", "partially_fulfilled", "refused"):
        raise InvalidInput("outcome is fulfilled, partially_fulfilled or refused", field="outcome")
    if outcome != "fulfilled" and len(text.strip()) < 4:
        raise InvalidInput("say why (the answer tells the requester)", field="text")
    if outcome != "refused" and request.status != "in_progress":
        raise Conflict("work has not started on this request", field="status")
    request.decision = {"outcome": outcome, "text": text.strip()[:4000], "by": actor.id, **(extra or {})}
    _move(
        session=session,
        request=request,
        target=outcome,
        actor=actor,
        now=now,
        action=outcome,
        reason=text.strip() or None,
    )


def cancel(*, session: Session, request: DsrRequest, reason: str, actor: DsrActor, now: datetime) -> None:
    """The requester withdrew the request (or a controller cancelled it over OpenDSR)."""
    _move(
        session=session,
        request=request,
        target="cancelled",
        actor=actor,
        now=now,
        action="cancelled",
        reason=reason or None,
    )


def record_decision(
    *,
    session: Session,
    registry: PolicyRegistry,
    request: DsrRequest,
    outcome: str,
    text: str,
    actor: DsrActor,
    now: datetime,
) -> None:
    """Fulfil a request that is a recorded decision: rectification, restriction, review of an
    automated decision, objection; a consent withdrawal goes through the consent service. Any
    request may be refused with a reason (e.g. manifestly unfounded), also before work starts."""
    if outcome == "refused":
        close(session=session, request=request, outcome="refused", text=text, actor=actor, now=now)
        return
    start_work(session=session, request=request, actor=actor, now=now)
    extra: dict[str, Any] = {}
    if request.kind == "consent_withdrawal" and outcome != "refused":
        extra["withdrawn"] = withdraw_consents(
            session=session,
            registry=registry,
            request=request,
            actor=actor,
            now=now,
            direct_marketing_only=False,
        )
    elif wf.is_marketing_objection(request.kind, request.ground) and outcome != "refused":
        extra["withdrawn"] = withdraw_consents(
            session=session,
            registry=registry,
            request=request,
            actor=actor,
            now=now,
            direct_marketing_only=True,
        )
    close(session=session, request=request, outcome=outcome, text=text, actor=actor, now=now, extra=extra)


def trail(*, session: Session, request_id: str) -> list[DsrEvent]:
    return list(
        session.scalars(select(DsrEvent).where(DsrEvent.request_id == request_id).order_by(DsrEvent.id))
    )


def list_requests(
    *,
    session: Session,
    now: datetime,
    controllers: tuple[str, ...] | None = None,
    due_within: timedelta | None = None,
    overdue: bool = False,
    status: str | None = None,
    subject_id: str | None = None,
    limit: int = 500,
) -> list[DsrRequest]:
    """Requests by due date; `due_within`/`overdue` only open ones."""
    stmt = select(DsrRequest)
    if controllers is not None:
        stmt = stmt.where(DsrRequest.controller.in_(controllers))
    if subject_id is not None:
        stmt = stmt.where(DsrRequest.subject_id == subject_id)
    if status is not None:
        stmt = stmt.where(DsrRequest.status == status)
    if due_within is not None or overdue:
        stmt = stmt.where(DsrRequest.status.in_(wf.OPEN))
    if overdue:
        stmt = stmt.where(DsrRequest.due_at < now)
    elif due_within is not None:
        stmt = stmt.where(DsrRequest.due_at <= now + due_within)
    return list(session.scalars(stmt.order_by(DsrRequest.due_at, DsrRequest.id).limit(limit)))


@dataclass(frozen=True)
class Reminder:
    request_id: str
    controller: str
    kind: str
    status: str
    due_at: datetime
    overdue: bool


def remind(*, session: Session, now: datetime, within: timedelta = timedelta(days=7)) -> list[Reminder]:
    """The daily reminder job: open requests due within `within` or overdue, each at most once a
    day (a second run on the same day finds nothing new)."""
    today = now.date().isoformat()
    not_today = (DsrRequest.reminded_on.is_(None)) | (DsrRequest.reminded_on != today)
    # Core rows, locked (PostgreSQL: another run skips them); claimed in bulk; one trail row each.
    due = session.execute(
        select(DsrRequest.id, DsrRequest.controller, DsrRequest.kind, DsrRequest.status, DsrRequest.due_at)
        .where(DsrRequest.status.in_(wf.OPEN), DsrRequest.due_at <= now + within, not_today)
        .order_by(DsrRequest.due_at)
        .with_for_update(skip_locked=True)
    ).all()
    out: list[Reminder] = []
    for k in range(0, len(due), 1000):
        chunk = due[k : k + 1000]
        session.execute(
            update(DsrRequest)
            .where(DsrRequest.id.in_([r.id for r in chunk]), not_today)
            .values(reminded_on=today)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(EVENTS),
            [
                {
                    "request_id": r.id,
                    "at": now,
                    "actor_kind": "system",
                    "actor_id": None,
                    "action": "reminded",
                    "from_status": r.status,
                    "to_status": r.status,
                    "reason": None,
                    "data": {"overdue": r.due_at < now},
                }
                for r in chunk
            ],
        )
        out.extend(Reminder(r.id, r.controller, r.kind, r.status, r.due_at, r.due_at < now) for r in chunk)
    return out


def portal_identity_evidence(*, session: Session, subject_id: str) -> list[Identity]:
    """The verified identities of a signed-in person (what the portal session proves)."""
    rows = session.scalars(
        select(SubjectIdentity).where(
            SubjectIdentity.subject_id == subject_id, SubjectIdentity.verified.is_(True)
        )
    )
    return [parse_identity(f"{r.kind}:{r.value}") for r in rows]
