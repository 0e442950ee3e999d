"""Consents a rights request withdraws: an objection to direct marketing, or a consent withdrawal
request, goes through the consent service like any other withdrawal (R-DSR-3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sargs.domains.consent.service import Actor, current_states, record_consent
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.policy.registry import PolicyRegistry

STAFF_CONSENT_CHANNEL = {
    "portal": "portal",
    "in_person": "staff",
    "post": "post",
    "representative": "staff",
    "email": "staff",
    "api": "api",
}


def withdraw_consents(
    *,
    session: Session,
    registry: PolicyRegistry,
    request: DsrRequest,
    actor: Actor,
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
            actor=actor,
            now=now,
            evidence={"dsr_request": request.id, "request_channel": request.channel},
        )
        withdrawn.append(state.purpose)
    return withdrawn
