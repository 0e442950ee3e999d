"""Rights requests over the API (R-DSR-1..7): file, list, read, verify, fulfil, and the answer."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sargs.core.errors import InvalidInput, NotFound
from sargs.domains.dsr.fulfilment import SOURCE_KINDS, runs_of
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import (
    DsrActor,
    get_request,
    list_requests,
    lock_request,
    missing_of,
    record_decision,
    trail,
    verify_identity,
)
from sargs.domains.jobs import tasks
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import (
    AccessReason,
    ContainerDep,
    Permit,
    audit,
    require_controller,
    stated_reason,
)
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, TaskRead, accepted, error_responses
from sargs.entrypoints.dsr_common import (
    audit_request,
    confirm_links,
    queue_fulfilment,
    response_bytes,
    response_document,
    signed_file_evidence,
)

router = APIRouter(tags=["rights requests"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[Principal, Depends(Permit("dsr.read"))]
Intaker = Annotated[Principal, Depends(Permit("dsr.intake"))]
Decider = Annotated[Principal, Depends(Permit("dsr.decide"))]


class RequesterIn(BaseModel):
    name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    contact: str = Field(default="", max_length=300)
    signed: bool = False


class RequestIn(BaseModel):
    controller: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    channel: Literal["in_person", "post", "representative", "email", "api"] = "api"
    identities: list[str] = Field(min_length=1, max_length=10)
    requester: RequesterIn = RequesterIn()
    ground: str | None = Field(default=None, max_length=32)
    purposes: list[str] = Field(default_factory=list, max_length=50)
    details: str = Field(default="", max_length=4000)
    language: Literal["lv", "en"] = "lv"


class VerifyIn(BaseModel):
    method: str = Field(max_length=32)
    evidence: dict[str, str] = Field(default_factory=dict, max_length=20)
    # e_signature: the signed file itself (an ASiC-E container or a signed PDF), base64, with its name;
    # it is checked, and an invalid signature is refused (issue 16).
    signed_file: str | None = Field(default=None, max_length=28_000_000)
    file_name: str = Field(default="signed-file", max_length=200)


class DecisionIn(BaseModel):
    outcome: Literal["fulfilled", "partially_fulfilled", "refused"] = "fulfilled"
    text: str = Field(default="", max_length=4000)


class RequestRead(BaseModel):
    id: str
    controller: str
    subject_id: str | None
    kind: str
    ground: str | None
    channel: str
    status: str
    language: str
    received_at: datetime
    due_at: datetime
    overdue: bool
    repeat_of: str | None
    repeat_decision: dict[str, Any] | None
    missing: list[str]
    verification: dict[str, Any] | None
    extension: dict[str, Any] | None
    decision: dict[str, Any] | None

    @classmethod
    def of(cls, r: DsrRequest, now: datetime) -> RequestRead:
        return cls(
            id=r.id,
            controller=r.controller,
            subject_id=r.subject_id,
            kind=r.kind,
            ground=r.ground,
            channel=r.channel,
            status=r.status,
            language=r.language,
            received_at=r.received_at,
            due_at=r.due_at,
            overdue=r.closed_at is None and r.due_at < now,
            repeat_of=r.repeat_of,
            repeat_decision=r.repeat_decision,
            missing=missing_of(r),
            verification=r.verification,
            extension=r.extension,
            decision=r.decision,
        )


class RequestDetail(RequestRead):
    trail: list[dict[str, Any]]
    sources: list[dict[str, Any]]


def _actor(principal: Principal) -> DsrActor:
    return DsrActor(principal.kind, principal.id)


@router.post(
    "/dsr/requests", status_code=201, response_model=RequestRead, responses=error_responses(404, 400, 413)
)
def create_request(
    body: RequestIn, request: Request, container: ContainerDep, principal: Intaker
) -> RequestRead:
    """File a request received in person, by post, through a representative or by e-mail."""
    require_controller(principal, body.controller)
    region = container.settings.default_region
    intake = Intake(
        controller=body.controller,
        kind=body.kind,
        channel=body.channel,
        identities=[parse_identity(i, region=region) for i in body.identities],
        requester=body.requester.model_dump(),
        details=body.details,
        ground=body.ground,
        purposes=tuple(body.purposes),
        language=body.language,
    )
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = file_request(
            session=session, registry=container.registry, intake=intake, actor=_actor(principal), now=now
        )
        audit_request(session, container, principal, request, "change", row)
        return RequestRead.of(row, now)


@router.get("/dsr/requests", response_model=list[RequestRead])
def list_dsr(
    container: ContainerDep,
    principal: Reader,
    due_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    overdue: bool = False,
    status: Annotated[str | None, Query(max_length=24)] = None,
) -> list[RequestRead]:
    """Requests by due date; `due_within_days` and `overdue` show open ones only."""
    now = container.clock.now()
    with container.read_sessions.begin() as session:
        rows = list_requests(
            session=session,
            now=now,
            controllers=principal.controllers,
            due_within=timedelta(days=due_within_days) if due_within_days is not None else None,
            overdue=overdue,
            status=status,
        )
        return [RequestRead.of(r, now) for r in rows]


def _detail(session: Any, row: DsrRequest, now: datetime) -> RequestDetail:
    base = RequestRead.of(row, now).model_dump()
    events = [
        {
            "at": e.at,
            "actor": f"{e.actor_kind}:{e.actor_id or ''}",
            "action": e.action,
            "from": e.from_status,
            "to": e.to_status,
            "reason": e.reason,
        }
        for e in trail(session=session, request_id=row.id)
    ]
    sources = [
        {
            "source": r.source,
            "operation": r.operation,
            "status": r.status,
            "attempts": r.attempts,
            "error": r.error,
        }
        for r in runs_of(session=session, request_id=row.id)
    ]
    return RequestDetail(**base, trail=events, sources=sources)


@router.get("/dsr/requests/{request_id}", response_model=RequestDetail, responses=error_responses(404))
def read_request(
    request_id: str, request: Request, container: ContainerDep, principal: Reader, reason: AccessReason = None
) -> RequestDetail:
    """One request with its trail and each data source's status (logged as a read of the person)."""
    why = stated_reason(principal, "subject.read", reason)
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=principal.controllers)
        audit_request(session, container, principal, request, "read", row, reason=why)
        return _detail(session, row, now)


@router.post(
    "/dsr/requests/{request_id}/verify",
    response_model=RequestRead,
    responses=error_responses(400, 404, 409, 413),
)
def verify(
    request_id: str, body: VerifyIn, request: Request, container: ContainerDep, principal: Intaker
) -> RequestRead:
    """Record how the requester's identity was checked (method and evidence fit the channel). With
    `signed_file`, the e-signature is checked: an invalid one is refused (422) with the reason."""
    now = container.clock.now()
    evidence, signature = dict(body.evidence), None
    if body.signed_file is not None:
        try:
            data = base64.b64decode(body.signed_file, validate=True)
        except ValueError:
            raise InvalidInput("signed_file is the file in base64", field="signed_file") from None
        found, signature = signed_file_evidence(container, file_name=body.file_name, data=data)
        evidence.update(found)
    with container.sessions.begin() as session:
        row = lock_request(session=session, request_id=request_id, controllers=principal.controllers)
        verify_identity(
            session=session,
            request=row,
            method=body.method,
            evidence=evidence,
            actor=_actor(principal),
            now=now,
            signature=signature,
        )
        audit_request(session, container, principal, request, "change", row)
        return RequestRead.of(row, now)


@router.post(
    "/dsr/requests/{request_id}/fulfil",
    response_model=RequestDetail,
    status_code=200,
    responses={
        202: {"model": TaskRead, "description": "Queued for the worker; poll the `Location` URL."},
        **error_responses(400, 404, 409, 413),
    },
)
def fulfil_request(
    request_id: str,
    request: Request,
    container: ContainerDep,
    principal: Decider,
    body: DecisionIn | None = None,
) -> Any:
    """Access, portability, erasure: queue the run over every data source for the worker and answer
    202 with the task (failed sources are retried alone by the next call). Other kinds: record the
    decision (`outcome`, `text`) and answer 200 with the request."""
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=principal.controllers)
        kind, subject_id, controller = row.kind, row.subject_id, row.controller
    if kind in SOURCE_KINDS and (body is None or body.outcome != "refused"):
        # The request moves to in progress, the access is logged and the task is queued together:
        # a 202 means the worker will run it, and a change nobody logged cannot happen.
        with container.sessions.begin() as session:
            task = queue_fulfilment(
                session,
                container.registry,
                request_id=request_id,
                actor=_actor(principal),
                now=now,
                controllers=principal.controllers,
            )
            if task is not None:
                audit(
                    session,
                    container,
                    principal,
                    request,
                    "change",
                    subject_id=subject_id,
                    controllers=[controller],
                )
                return accepted(TaskRead.of(task, fulfilment_url(request_id)))
    else:
        decision = body or DecisionIn()
        with container.sessions.begin() as session:  # the decision and its log row land together
            row = lock_request(session=session, request_id=request_id, controllers=principal.controllers)
            record_decision(
                session=session,
                registry=container.registry,
                request=row,
                outcome=decision.outcome,
                text=decision.text,
                actor=_actor(principal),
                now=now,
                confirm=confirm_links(container),
            )
            audit(
                session,
                container,
                principal,
                request,
                "change",
                subject_id=subject_id,
                controllers=[controller],
            )
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id)
        return _detail(session, row, container.clock.now())


def fulfilment_url(request_id: str) -> str:
    return f"/api/v1/dsr/requests/{request_id}/fulfilment"


@router.get("/dsr/requests/{request_id}/fulfilment", response_model=TaskRead, responses=error_responses(404))
def fulfilment_status(request_id: str, container: ContainerDep, principal: Reader) -> TaskRead:
    """The request's latest fulfilment task: its progress per source while it runs, then its result."""
    with container.read_sessions.begin() as session:
        get_request(session=session, request_id=request_id, controllers=principal.controllers)
        task = tasks.latest_task(session=session, kind="dsr_fulfil", target=request_id)
        if task is None:
            raise NotFound("this request has no fulfilment queued", field="request_id")
        return TaskRead.of(task, fulfilment_url(request_id))


@router.get("/dsr/requests/{request_id}/response", responses=error_responses(404))
def response_document_route(
    request_id: str,
    request: Request,
    container: ContainerDep,
    principal: Reader,
    format: Annotated[Literal["pdf", "html"], Query()] = "pdf",
    lang: Annotated[str | None, Query(max_length=2)] = None,
    reason: AccessReason = None,
) -> Response:
    """The answer to the requester as PDF or HTML, in their language (or `lang`)."""
    why = stated_reason(principal, "subject.read", reason)
    if lang not in (None, "lv", "en"):
        raise InvalidInput("lang is lv or en", field="lang")
    document = response_document(container, request_id, controllers=principal.controllers, language=lang)
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id)
        audit_request(session, container, principal, request, "export", row, reason=why)
    body, media = response_bytes(container, document, format)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'inline; filename="answer-{request_id}.{format}"'},
    )
