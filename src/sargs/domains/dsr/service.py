"""Rights requests after intake: the trail, verification, holds, repeat decisions, extensions,
decisions and listing (R-DSR-1..4); intake is in `intake`, the daily reminder in `reminders`.
Services never commit: the entrypoint owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.ids import new_id
from sargs.domains.consent.service import Actor
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.followups import TOLD_KINDS, ConfirmLinks, tell_recipients
from sargs.domains.dsr.model import DsrCallback, DsrEvent, DsrRequest
from sargs.domains.dsr.signatures import SignatureResult, check_usable, names_match
from sargs.domains.dsr.withdrawals import withdraw_consents
from sargs.domains.policy.registry import PolicyRegistry

EVENTS = table(DsrEvent)


@dataclass(frozen=True)
class DsrActor:
    """Who acts on a request: staff, a token, the person (portal) or the system."""

    kind: str
    id: str | None

    def consent_actor(self) -> Actor:
        kinds = {"staff": "staff", "token": "token", "subject": "subject"}
        return Actor(kinds.get(self.kind, "system"), self.id)  # type: ignore[arg-type]


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
    signature: SignatureResult | None = None,
) -> None:
    """Record how the requester's identity was checked; required content must be complete, and an
    e-signed file's checked `signature` must not be invalid (it is kept with the request)."""
    missing = missing_of(request)
    if missing:
        raise Conflict(
            f"the request lacks required content (retailer 3.4.1): {', '.join(missing)}", field=missing[0]
        )
    clean = wf.check_evidence(channel=request.channel, method=method, evidence=evidence)
    if signature is not None:
        if method != "e_signature":
            raise InvalidInput("a signed file verifies only by the e_signature method", field="method")
        check_usable(signature)
    request.verification = {
        "method": method,
        "evidence": clean,
        "checked_by": actor.id,
        "at": now.isoformat(),
    }
    if signature is not None:
        facts = signature.as_json()
        facts["name_matches"] = names_match(signature, str(request.requester.get("name") or ""))
        request.verification["signature"] = facts
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
        data={"method": method, "evidence": clean}
        | ({"signature": signature.status} if signature is not None else {}),
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
    confirm: ConfirmLinks | None = None,
) -> None:
    """Fulfil a request that is a recorded decision: rectification, restriction, review of an
    automated decision, objection; a consent withdrawal goes through the consent service. Any
    request may be refused with a reason (e.g. manifestly unfounded), also before work starts.
    A rectification or restriction tells the recipients the policy links to it (`confirm`: how
    their confirm links are made; without it nobody is told)."""
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
            actor=actor.consent_actor(),
            now=now,
            direct_marketing_only=False,
        )
    elif wf.is_marketing_objection(request.kind, request.ground) and outcome != "refused":
        extra["withdrawn"] = withdraw_consents(
            session=session,
            registry=registry,
            request=request,
            actor=actor.consent_actor(),
            now=now,
            direct_marketing_only=True,
        )
    if request.kind in TOLD_KINDS and confirm is not None:
        extra["recipients_told"] = tell_recipients(
            session=session,
            policy=registry.policy_for(request.controller),
            request=request,
            now=now,
            confirm=confirm,
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
