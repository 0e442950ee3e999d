"""A person's consents: current state per purpose and the full history (R-CON-1, R-CON-2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from sargs.domains.consent.service import current_states, history, rejections
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.subjects.service import require_subject_id
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, require
from sargs.entrypoints.api.schemas import EventRead, RejectionRead, StateRead

router = APIRouter(tags=["subjects"])

Reader = Annotated[Principal, Depends(require("admin", "dpo", "operator", "auditor"))]


class SubjectConsents(BaseModel):
    subject_id: str
    current: list[StateRead]
    history: list[EventRead]
    rejections: list[RejectionRead]


@router.get("/subjects/{identity}/consents", response_model=SubjectConsents)
def subject_consents(identity: str, container: ContainerDep, principal: Reader) -> SubjectConsents:
    """Current consent per purpose and every event, for the controllers this credential may see."""
    ident = parse_identity(identity, region=container.settings.default_region)
    with container.read_sessions.begin() as session:
        subject_id = require_subject_id(session=session, identity=ident)
        states = [
            s
            for s in current_states(session=session, subject_id=subject_id)
            if principal.may_see(s.controller)
        ]
        events = [
            e for e in history(session=session, subject_id=subject_id) if principal.may_see(e.controller)
        ]
        refused = [
            r for r in rejections(session=session, subject_id=subject_id) if principal.may_see(r.controller)
        ]
    return SubjectConsents(
        subject_id=subject_id,
        current=[StateRead.of(s) for s in states],
        history=[EventRead.of(e) for e in events],
        rejections=[RejectionRead.of(r) for r in refused],
    )
