"""An OpenDSR-style endpoint, so processors and controllers that speak that spec can file, follow
and cancel requests (statuses pending / in_progress / completed / cancelled); status changes are
posted, signed, to the request's `status_callback_urls` through the callback outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.domains.dsr.callbacks import callback_url_problem
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor, cancel, lock_request, opendsr_view
from sargs.domains.subjects.identifiers import Identity, make_identity
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit, require_controller
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.dsr_common import audit_request

router = APIRouter(tags=["OpenDSR"], responses=AUTHENTICATED_ERRORS)
Intaker = Annotated[Principal, Depends(Permit("dsr.intake"))]
Reader = Annotated[Principal, Depends(Permit("dsr.read"))]

IDENTITY_TYPES = {"email": "email", "phone_number": "msisdn", "controller_customer_id": "customer"}
REQUEST_TYPES = {"access": "access", "portability": "portability", "erasure": "erasure"}


class SubjectIdentityIn(BaseModel):
    identity_type: str = Field(max_length=40)
    identity_value: str = Field(max_length=300)
    identity_format: Literal["raw"] = "raw"


class OpenDsrRequestIn(BaseModel):
    subject_request_id: str = Field(min_length=1, max_length=128)
    subject_request_type: str = Field(max_length=32)
    submitted_time: datetime | None = None
    subject_identities: list[SubjectIdentityIn] = Field(min_length=1, max_length=10)
    api_version: str = Field(default="1.0", max_length=10)
    status_callback_urls: list[Annotated[str, Field(max_length=2000, pattern=r"^https?://")]] = Field(
        default_factory=list, max_length=5
    )
    controller_id: str | None = Field(default=None, max_length=64)
    extensions: dict[str, Any] | None = None


class OpenDsrStatus(BaseModel):
    controller_id: str
    subject_request_id: str
    request_status: str
    expected_completion_time: str
    received_time: str
    api_version: str


def _controller(principal: Principal, given: str | None) -> str:
    if given:
        require_controller(principal, given)
        return given
    if principal.controllers is not None and len(principal.controllers) == 1:
        return principal.controllers[0]
    raise InvalidInput("name the controller (controller_id) this request is for", field="controller_id")


def _identity(item: SubjectIdentityIn, region: str) -> Identity:
    kind = IDENTITY_TYPES.get(item.identity_type)
    if kind is None:
        raise InvalidInput(
            f"identity_type must be one of {', '.join(IDENTITY_TYPES)}",
            field="subject_identities.identity_type",
        )
    return make_identity(kind, item.identity_value, region=region)


def _find(session: Any, principal: Principal, request_id: str) -> DsrRequest:
    stmt = select(DsrRequest.id).where((DsrRequest.external_id == request_id) | (DsrRequest.id == request_id))
    if principal.controllers is not None:
        stmt = stmt.where(DsrRequest.controller.in_(principal.controllers))
    found = session.scalar(stmt.limit(1))
    if found is None:
        raise NotFound("no such request")
    return lock_request(session=session, request_id=found)


@router.post(
    "/opendsr/requests",
    status_code=201,
    response_model=OpenDsrStatus,
    responses=error_responses(400, 409, 413),
)
def opendsr_create(
    body: OpenDsrRequestIn, request: Request, container: ContainerDep, principal: Intaker
) -> OpenDsrStatus:
    """File a request in OpenDSR form; identities are verified by staff before work starts."""
    kind = REQUEST_TYPES.get(body.subject_request_type)
    if kind is None:
        raise InvalidInput(
            f"subject_request_type must be one of {', '.join(REQUEST_TYPES)}", field="subject_request_type"
        )
    controller = _controller(principal, body.controller_id)
    region = container.settings.default_region
    identities = [_identity(i, region) for i in body.subject_identities]
    now = container.clock.now()
    with container.sessions.begin() as session:
        exists = session.scalar(
            select(DsrRequest.id).where(
                DsrRequest.controller == controller, DsrRequest.external_id == body.subject_request_id
            )
        )
        if exists is not None:
            raise Conflict("subject_request_id was already used", field="subject_request_id")
        allowed = container.settings.opendsr_callback_hosts
        for i, url in enumerate(body.status_callback_urls):
            problem = callback_url_problem(url, allowed_hosts=allowed)
            if problem:
                raise InvalidInput(problem, field=f"status_callback_urls.{i}")
        row = file_request(
            session=session,
            registry=container.registry,
            intake=Intake(
                controller=controller,
                kind=kind,
                channel="api",
                identities=identities,
                requester={},
                ground="no_longer_needed" if kind == "erasure" else None,
                language="en",
                external_id=body.subject_request_id,
                callback_urls=tuple(body.status_callback_urls),
            ),
            actor=DsrActor(principal.kind, principal.id),
            now=now,
        )
        audit(
            session,
            container,
            principal,
            request,
            "change",
            subject_id=row.subject_id,
            controllers=[controller],
        )
        return OpenDsrStatus(**opendsr_view(row))


@router.get("/opendsr/requests/{request_id}", response_model=OpenDsrStatus, responses=error_responses(404))
def opendsr_status(request_id: str, container: ContainerDep, principal: Reader) -> OpenDsrStatus:
    """The request's OpenDSR status."""
    with container.sessions.begin() as session:
        return OpenDsrStatus(**opendsr_view(_find(session, principal, request_id)))


@router.delete(
    "/opendsr/requests/{request_id}", response_model=OpenDsrStatus, responses=error_responses(404, 409)
)
def opendsr_cancel(
    request_id: str, request: Request, container: ContainerDep, principal: Intaker
) -> OpenDsrStatus:
    """Cancel a request that is not finished yet."""
    with container.sessions.begin() as session:
        row = _find(session, principal, request_id)
        cancel(
            session=session,
            request=row,
            reason="cancelled over OpenDSR",
            actor=DsrActor(principal.kind, principal.id),
            now=container.clock.now(),
        )
        audit_request(session, container, principal, request, "change", row)
        return OpenDsrStatus(**opendsr_view(row))
