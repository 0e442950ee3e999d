"""A person's consents: current state per purpose and the full history (R-CON-1, R-CON-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from sargs.core.errors import NotFound
from sargs.domains.consent.service import current_states, history, rejections
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import AccessReason, ContainerDep, Permit, audit, open_person, stated_reason
from sargs.entrypoints.api.schemas import (
    AUTHENTICATED_ERRORS,
    EventRead,
    RejectionRead,
    StateRead,
    error_responses,
)

router = APIRouter(tags=["subjects"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[Principal, Depends(Permit("subject.read"))]


class SubjectConsents(BaseModel):
    subject_id: str
    current: list[StateRead]
    history: list[EventRead]
    rejections: list[RejectionRead]


@router.get("/subjects/{identity}/consents", response_model=SubjectConsents, responses=error_responses(404))
def subject_consents(
    identity: str,
    request: Request,
    container: ContainerDep,
    principal: Reader,
    reason: AccessReason = None,
) -> SubjectConsents:
    """Current consent per purpose and every event, for the controllers this credential may see.
    Logged in the access log; DPO, admin and auditor must send `X-Access-Reason`."""
    why = stated_reason(principal, "subject.read", reason)
    ident = parse_identity(identity, region=container.settings.default_region)
    with container.sessions.begin() as session:
        person = open_person(session, container, principal, request, ident, why)
        result = None
        if person is not None:
            subject_id, seen = person
            states = [
                s
                for s in current_states(session=session, subject_id=subject_id)
                if principal.may_see(s.controller)
            ]
            events = [
                e for e in history(session=session, subject_id=subject_id) if principal.may_see(e.controller)
            ]
            refused = [
                r
                for r in rejections(session=session, subject_id=subject_id)
                if principal.may_see(r.controller)
            ]
            audit(
                session,
                container,
                principal,
                request,
                "read",
                subject_id=subject_id,
                controllers=seen,
                reason=why,
            )
            result = SubjectConsents(
                subject_id=subject_id,
                current=[StateRead.of(s) for s in states],
                history=[EventRead.of(e) for e in events],
                rejections=[RejectionRead.of(r) for r in refused],
            )
    if result is None:
        raise NotFound("no data subject has this identity", identity=ident.masked())
    return result
