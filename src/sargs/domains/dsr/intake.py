"""Rights requests as they arrive (R-DSR-1): what a request says, filing it (kind, ground, channel,
due date, repeat flag), and what a signed-in person's portal session proves about who they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.core.i18n import LANGUAGES
from sargs.core.ids import new_id
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.repeats import find_repeat
from sargs.domains.dsr.service import DsrActor, log_event, queue_callbacks
from sargs.domains.dsr.withdrawals import withdraw_consents
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.identifiers import Identity, make_identity, parse_identity
from sargs.domains.subjects.model import SubjectIdentity
from sargs.domains.subjects.service import find_subject_id


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
    if intake.language not in LANGUAGES:
        raise InvalidInput(f"language is one of {', '.join(LANGUAGES)}", field="language")
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
    # Normalised (idempotent for what the entrypoints parsed), so repeats match on them (`repeats`).
    identities = list(dict.fromkeys(str(make_identity(i.kind, i.value)) for i in intake.identities))
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
    request.repeat_of = find_repeat(
        session=session,
        controller=intake.controller,
        kind=intake.kind,
        subject_id=subject_id,
        identities=identities,
        now=now,
        deadlines=policy.deadlines,
    )
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
            actor=actor.consent_actor(),
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


def portal_identity_evidence(*, session: Session, subject_id: str) -> list[Identity]:
    """The verified identities of a signed-in person (what the portal session proves)."""
    rows = session.scalars(
        select(SubjectIdentity).where(
            SubjectIdentity.subject_id == subject_id, SubjectIdentity.verified.is_(True)
        )
    )
    return [parse_identity(f"{r.kind}:{r.value}") for r in rows]
