"""The access log, for the DPO, auditors and admins (R-ACC-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.audit.service import query_access_log
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.subjects.service import find_subject_id
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS

router = APIRouter(tags=["audit"], responses=AUTHENTICATED_ERRORS)

AuditReader = Annotated[Principal, Depends(Permit("audit.read"))]
NO_MATCH = "-" * 32  # a subject id that cannot exist


class AccessRead(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    role: str | None
    subject_id: str | None
    controller: str | None
    route: str
    action: str
    reason: str | None
    outcome: str

    @classmethod
    def of(cls, row: AccessLogEntry) -> AccessRead:
        return cls.model_validate(row, from_attributes=True)


class AccessPageRead(BaseModel):
    items: list[AccessRead]
    next_before: int | None


@router.get("/audit", response_model=AccessPageRead)
def access_log(
    request: Request,
    container: ContainerDep,
    principal: AuditReader,
    subject: Annotated[
        str | None, Query(description="A subject id, or an identity such as msisdn:+37129123456.")
    ] = None,
    actor: Annotated[str | None, Query(description="A staff or token id.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: Annotated[int | None, Query(description="Page cursor: `next_before` of the last page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessPageRead:
    """Who read or changed whose data, when, through which route and why; newest first, paginated.
    A controller-scoped credential sees only its controllers' entries."""
    with container.sessions.begin() as session:
        subject_id = subject
        if subject is not None and ":" in subject:
            ident = parse_identity(subject, region=container.settings.default_region)
            subject_id = find_subject_id(session=session, identity=ident) or NO_MATCH
        elif subject is not None and len(subject) > len(NO_MATCH):
            subject_id = NO_MATCH  # longer than any subject id (and than the access log's column)
        page = query_access_log(
            session=session,
            viewer=principal,
            subject_id=subject_id,
            actor_id=actor,
            since=since,
            until=until,
            before=before,
            limit=limit,
        )
        audit(
            session,
            container,
            principal,
            request,
            "read",
            subject_id=subject_id if subject_id != NO_MATCH else None,
            controllers=principal.controllers,
        )
        return AccessPageRead(items=[AccessRead.of(r) for r in page.items], next_before=page.next_before)
