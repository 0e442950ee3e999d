"""The OpenDSR endpoints (opengdpr/OpenDSR 1.0), so controllers that speak that spec can discover what
Sargs takes, file, follow and cancel requests (statuses pending / in_progress / completed /
cancelled); status changes are posted, signed, to the request's `status_callback_urls` through the
callback outbox. With a processor certificate configured, responses are signed too
(`X-OpenDSR-Signature`, `X-OpenDSR-Processor-Domain`). Errors take the spec's shape (errors.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.domains.dsr.callbacks import callback_url_problem
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor, cancel, lock_request, opendsr_view
from sargs.domains.subjects.identifiers import Identity, make_identity
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit, require_controller
from sargs.entrypoints.api.schemas import error_responses
from sargs.entrypoints.dsr_common import audit_request

router = APIRouter(tags=["OpenDSR"])
Intaker = Annotated[Principal, Depends(Permit("dsr.intake"))]
Reader = Annotated[Principal, Depends(Permit("dsr.read"))]

IDENTITY_TYPES = {"email": "email", "phone_number": "msisdn", "controller_customer_id": "customer"}
REQUEST_TYPES = {"access": "access", "portability": "portability", "erasure": "erasure"}
API_VERSION = "1.0"


class OpenDsrErrorItem(BaseModel):
    domain: str
    reason: str
    message: str
    field: str | None = None


class OpenDsrErrorDetail(BaseModel):
    """The spec's error object (7.6): the HTTP status as an integer, a message, one item a problem."""

    code: int
    message: str
    errors: list[OpenDsrErrorItem]
    field: str | None = None


class OpenDsrErrorRead(BaseModel):
    error: OpenDsrErrorDetail


SPEC_ERRORS = {
    400: "Invalid input (the spec's 400); `error.field` names the field.",
    401: "No valid API token.",
    403: "The token's role or controller scope does not allow this.",
    404: "No such request, or not visible to this token.",
    409: "The subject_request_id was used already, or the request is finished.",
}


def opendsr_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Responses of an authenticated OpenDSR route: the spec's error object for what the route
    answers; the shared error shape for what is refused before it (413, 422 for a NUL, 503)."""
    spec: dict[int | str, dict[str, Any]] = {
        s: {"model": OpenDsrErrorRead, "description": SPEC_ERRORS[s]} for s in (400, 401, 403, *statuses)
    }
    return {**spec, **error_responses(413, 422, 503)}


UUID4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"  # lowercase (spec 1.1)
CERTIFICATE_PATH = "/api/v1/opendsr/processor-certificate.pem"


class SubjectIdentityIn(BaseModel):
    identity_type: str = Field(max_length=40)
    identity_value: str = Field(max_length=300)
    identity_format: Literal["raw"] = "raw"


class OpenDsrRequestIn(BaseModel):
    regulation: str = Field(max_length=16, description="gdpr (Sargs takes no other)")
    subject_request_id: str = Field(max_length=64, description="a lowercase UUID v4 the controller made")
    subject_request_type: str = Field(max_length=32)
    submitted_time: datetime = Field(description="RFC 3339: when the person made the request")
    subject_identities: list[SubjectIdentityIn] = Field(min_length=1, max_length=10)
    api_version: str = Field(default=API_VERSION, max_length=10)
    status_callback_urls: list[Annotated[str, Field(max_length=2000, pattern=r"^https?://")]] = Field(
        default_factory=list, max_length=5
    )
    controller_id: str | None = Field(default=None, max_length=64)
    extensions: dict[str, Any] | None = None

    @field_validator("subject_request_id")
    @classmethod
    def _uuid4(cls, value: str) -> str:
        if not re.fullmatch(UUID4, value):
            raise ValueError("must be a lowercase UUID v4, e.g. a7551968-d5d6-44b2-9831-815ac9017798")
        return value


class OpenDsrStatus(BaseModel):
    controller_id: str
    subject_request_id: str
    request_status: str
    expected_completion_time: str
    received_time: str
    api_version: str


class OpenDsrCancelled(BaseModel):
    controller_id: str
    subject_request_id: str
    received_time: str = Field(description="when the cancellation was received")
    api_version: str


class IdentityFormat(BaseModel):
    identity_type: str
    identity_format: str


class Discovery(BaseModel):
    api_version: str
    supported_identities: list[IdentityFormat]
    supported_subject_request_types: list[str]
    processor_certificate: str | None = Field(
        description="where the certificate that signs callbacks and responses is (none: HMAC-signed)"
    )


class ServiceStatus(BaseModel):
    api_version: str
    status: Literal["ok"]


def _signed(request: Request, model: BaseModel, status_code: int = 200) -> Response:
    """The model as JSON, with the processor's signature of exactly these bytes when configured."""
    body = json.dumps(model.model_dump(mode="json"), separators=(",", ":")).encode()
    signer = request.app.state.container.opendsr_signer
    headers = signer.headers(body) if signer is not None else {}
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


@router.get("/opendsr/discovery", response_model=Discovery)
def discovery(request: Request, container: ContainerDep) -> Response:
    """What Sargs takes over OpenDSR (spec 6): identity types, request types, the certificate's URL."""
    base = (container.settings.public_url or str(request.base_url)).rstrip("/")
    signer = container.opendsr_signer
    return _signed(
        request,
        Discovery(
            api_version=API_VERSION,
            supported_identities=[
                IdentityFormat(identity_type=t, identity_format="raw") for t in IDENTITY_TYPES
            ],
            supported_subject_request_types=list(REQUEST_TYPES),
            processor_certificate=base + CERTIFICATE_PATH if signer is not None else None,
        ),
    )


@router.get("/opendsr/status", response_model=ServiceStatus)
def service_status(request: Request) -> Response:
    """The OpenDSR service answers (spec 3.1: /status)."""
    return _signed(request, ServiceStatus(api_version=API_VERSION, status="ok"))


@router.get(
    "/opendsr/processor-certificate.pem",
    response_class=Response,
    responses={404: {"model": OpenDsrErrorRead, "description": "No processor certificate is configured."}},
)
def processor_certificate(container: ContainerDep) -> Response:
    """The certificate (chain) whose key signs the callbacks and responses."""
    signer = container.opendsr_signer
    if signer is None:
        raise NotFound(
            "no processor certificate is configured (SARGS_OPENDSR_CERTIFICATE); callbacks use HMAC"
        )
    return Response(signer.chain_pem, media_type="application/x-pem-file")


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
    responses=opendsr_errors(409),
)
def opendsr_create(
    body: OpenDsrRequestIn, request: Request, container: ContainerDep, principal: Intaker
) -> Response:
    """File a request in OpenDSR form; identities are verified by staff before work starts."""
    if body.regulation != "gdpr":
        raise InvalidInput("regulation must be gdpr: Sargs handles GDPR requests only", field="regulation")
    if body.submitted_time.tzinfo is None:
        raise InvalidInput("submitted_time needs a time zone (RFC 3339)", field="submitted_time")
    if body.submitted_time > container.clock.now():
        raise InvalidInput("submitted_time is in the future", field="submitted_time")
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
        view = OpenDsrStatus(**opendsr_view(row))
    return _signed(request, view, 201)


@router.get("/opendsr/requests/{request_id}", response_model=OpenDsrStatus, responses=opendsr_errors(404))
def opendsr_status(request_id: str, request: Request, container: ContainerDep, principal: Reader) -> Response:
    """The request's OpenDSR status."""
    with container.sessions.begin() as session:
        view = OpenDsrStatus(**opendsr_view(_find(session, principal, request_id)))
    return _signed(request, view)


@router.delete(
    "/opendsr/requests/{request_id}",
    status_code=202,
    response_model=OpenDsrCancelled,
    responses=opendsr_errors(404, 409),
)
def opendsr_cancel(
    request_id: str, request: Request, container: ContainerDep, principal: Intaker
) -> Response:
    """Cancel a request that is not finished yet (202; the status callbacks say `cancelled`)."""
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = _find(session, principal, request_id)
        cancel(
            session=session,
            request=row,
            reason="cancelled over OpenDSR",
            actor=DsrActor(principal.kind, principal.id),
            now=now,
        )
        audit_request(session, container, principal, request, "change", row)
        view = OpenDsrStatus(**opendsr_view(row))
    cancelled = OpenDsrCancelled(
        controller_id=view.controller_id,
        subject_request_id=view.subject_request_id,
        received_time=now.isoformat(),
        api_version=API_VERSION,
    )
    return _signed(request, cancelled, 202)
