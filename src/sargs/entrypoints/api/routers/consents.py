"""Recording and checking consents, and their receipts (R-CON-1..4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, NotEligible
from sargs.core.group_commit import GroupCommit, each_in_order
from sargs.domains.consent.checks import (
    MAX_BATCH_CHECK,
    CheckRequest,
    ConsentCheck,
    check_consent,
)
from sargs.domains.consent.receipts import build_receipt
from sargs.domains.consent.service import Actor, ConsentOutcome, get_event, lock_subject, record_consent
from sargs.domains.policy.registry import policy_as_published
from sargs.domains.subjects.erasure import identifier_in
from sargs.domains.subjects.identifiers import Identity, parse_identity
from sargs.domains.subjects.service import find_subject_id, get_or_create_subject
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import (
    AccessReason,
    ContainerDep,
    Permit,
    access_entry,
    audit,
    pseudonymise_ip,
    require_controller,
    stated_reason,
)
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, EventRead, StateRead, error_responses
from sargs.entrypoints.container import Container
from sargs.entrypoints.offload import blocking
from sargs.entrypoints.receipts import JWT_MEDIA_TYPE, ReceiptFormat, receipt_response

router = APIRouter(tags=["consents"], responses=AUTHENTICATED_ERRORS)

Writer = Annotated[Principal, Depends(Permit("consent.write"))]
Reader = Annotated[Principal, Depends(Permit("subject.read"))]
Checker = Annotated[Principal, Depends(Permit("consent.check"))]

EvidenceValue = str | int | float | bool | None


class ConsentCreate(BaseModel):
    controller: str = Field(min_length=1, max_length=64)
    identity: str = Field(min_length=3, max_length=300, examples=["msisdn:+37129123456"])
    purpose: str = Field(min_length=1, max_length=64)
    action: Literal["grant", "withdraw", "refuse"]
    channel: str = Field(default="api", max_length=16)
    occurred_at: datetime | None = None
    evidence: dict[str, EvidenceValue] | None = Field(
        default=None, description="Up to 20 flat key/value pairs."
    )
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("evidence")
    @classmethod
    def _small(cls, value: dict[str, EvidenceValue] | None) -> dict[str, EvidenceValue] | None:
        if value is not None and (len(value) > 20 or any(len(k) > 64 for k in value)):
            raise ValueError("at most 20 keys of at most 64 characters")
        if value is not None and any(isinstance(v, str) and len(v) > 500 for v in value.values()):
            raise ValueError("values are at most 500 characters")
        if value is not None and not all(_encodable(s) for s in (*value, *value.values())):
            # JSON can escape half a surrogate pair ("\ud800"); the ledger hashes UTF-8 bytes.
            raise ValueError("keys and values must be valid Unicode text (no lone surrogates)")
        return value


def _encodable(value: object) -> bool:
    """Not a string, or a string with no lone surrogate (so it has a UTF-8 form)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


class ConsentWritten(BaseModel):
    event: EventRead
    state: StateRead | None


class ConsentCheckRead(BaseModel):
    allowed: bool
    status: str
    since: datetime | None
    event_id: str | None


@router.post(
    "/consents",
    status_code=201,
    response_model=ConsentWritten,
    responses={
        200: {"model": ConsentWritten, "description": "A replay of an idempotency key: nothing written."},
        **error_responses(400, 404, 409, 413),
    },
)
async def create_consent(
    body: ConsentCreate,
    request: Request,
    container: ContainerDep,
    principal: Writer,
    idempotency_header: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> Any:
    """Grant, withdraw or refuse a consent. Repeating a request with the same idempotency key
    returns the first result (200) instead of writing twice."""
    require_controller(principal, body.controller)
    identity = parse_identity(body.identity, region=container.settings.default_region)
    key = body.idempotency_key or idempotency_header
    # Evidence and the key are hash-chained: erasure could not remove the person's identifier later.
    if identifier_in([*(body.evidence or {}).keys(), *(body.evidence or {}).values()], [identity]):
        raise InvalidInput("evidence must not hold the person's phone number or e-mail", field="evidence")
    if key and identifier_in([key], [identity]):
        raise InvalidInput(
            "the idempotency key must not hold the person's phone number or e-mail", field="idempotency_key"
        )
    evidence: dict[str, Any] = dict(body.evidence or {})
    ip = pseudonymise_ip(container, request.client.host if request.client else None)
    if ip:
        evidence.setdefault("ip", ip)
    container.registry.policy_for(body.controller)  # an unknown controller or purpose: 422 before any write
    container.registry.purpose(body.controller, body.purpose)
    access = access_entry(container, principal, request, "change", body.controller)
    writes: GroupCommit[ConsentWrite, WriteResult] = request.app.state.consent_writes
    outcome, payload = await writes.submit(
        ConsentWrite(principal, request, body, identity, evidence, key, access)
    )
    # The rejection is committed (it is recorded evidence) and then reported.
    if outcome.rejection is not None:
        raise NotEligible(outcome.rejection.message, rejection_id=outcome.rejection.id, field="purpose")
    assert payload is not None
    if not outcome.created:
        return JSONResponse(payload, status_code=200, headers={"Idempotent-Replay": "true"})
    return JSONResponse(payload, status_code=201)


@dataclass(frozen=True)
class ConsentWrite:
    """One POST /consents, validated, waiting for the transaction that writes it."""

    principal: Principal
    request: Request
    body: ConsentCreate
    identity: Identity
    evidence: dict[str, Any]
    key: str | None
    access: dict[str, Any]


WriteResult = tuple[ConsentOutcome, dict[str, Any] | None]


def write_consents(
    container: Container, session: Session, writes: Sequence[ConsentWrite]
) -> list[WriteResult]:
    """The consent writes of one group commit (core.group_commit) in one transaction.

    Each is done as it would be alone, one after the other, so a second write for the same person
    sees the first one's event. They take their people's locks in the order of their identities,
    so two processes' groups lock shared people in the same order instead of deadlocking.
    """
    return each_in_order(
        writes,
        lambda write: (write.identity.kind, write.identity.value),
        lambda write: _write_consent(container, session, write),
    )


def _write_consent(container: Container, session: Session, write: ConsentWrite) -> WriteResult:
    """One write in the group's transaction: the person found and locked (or made), the event,
    its access row."""
    body = write.body
    policy = container.registry.policy_for(body.controller)
    now = container.clock.now()
    locked = lock_subject(session=session, identity=write.identity, controller=body.controller)
    if locked is not None:
        subject_id = locked.id
    else:
        subject_id, _ = get_or_create_subject(
            session=session,
            identity=write.identity,
            controller=body.controller,
            default_group=policy.default_client_group,
            now=now,
        )
    outcome = record_consent(
        session=session,
        registry=container.registry,
        subject_id=subject_id,
        controller=body.controller,
        purpose=body.purpose,
        action=body.action,
        channel=body.channel,
        actor=Actor(write.principal.kind, write.principal.id),
        now=now,
        occurred_at=body.occurred_at,
        evidence=write.evidence,
        idempotency_key=write.key,
        clock=container.clock.now,
        locked=locked,
        access=write.access,
    )
    if not outcome.logged:  # a replay or a rejection: no event, so the row goes on its own
        audit(
            session,
            container,
            write.principal,
            write.request,
            "change",
            subject_id=subject_id,
            controllers=[body.controller],
            outcome="rejected" if outcome.rejection else "ok",
        )
    payload = None
    if outcome.event is not None:
        payload = ConsentWritten(
            event=EventRead.of(outcome.event),
            state=StateRead.of(outcome.state) if outcome.state else None,
        ).model_dump(mode="json")
    return outcome, payload


@router.get("/consents/check", response_model=ConsentCheckRead)
async def check(
    request: Request,
    container: ContainerDep,
    principal: Checker,
    controller: Annotated[str, Query(min_length=1)],
    identity: Annotated[str, Query(min_length=3)],
    purpose: Annotated[str, Query(min_length=1)],
    at: datetime | None = None,
) -> ConsentCheckRead:
    """May this person be processed for this purpose now (or at `at`)? Unknown people: not allowed."""
    require_controller(principal, controller)
    ident = parse_identity(identity, region=container.settings.default_region)
    container.registry.purpose(controller, purpose)
    if at is None:  # the hot path: identity joined to current state, and the log row, in a group commit
        access = access_entry(container, principal, request, "read", controller)
        checks: GroupCommit[CheckRequest, tuple[str | None, ConsentCheck]] = request.app.state.consent_checks
        subject_id, now = await checks.submit(CheckRequest(ident, controller, purpose, access))
        result: ConsentCheck | None = now
    else:
        subject_id, result = await blocking(
            _check_at, container, principal, request, ident, controller, purpose, at
        )
    if subject_id is None or result is None:
        return ConsentCheckRead(allowed=False, status="none", since=None, event_id=None)
    return ConsentCheckRead(
        allowed=result.allowed, status=result.status, since=result.since, event_id=result.event_id
    )


def _check_at(
    container: Container,
    principal: Principal,
    request: Request,
    ident: Identity,
    controller: str,
    purpose: str,
    at: datetime,
) -> tuple[str | None, ConsentCheck | None]:
    with container.sessions.begin() as session:
        subject_id = find_subject_id(session=session, identity=ident)
        result = (
            check_consent(
                session=session, subject_id=subject_id, controller=controller, purpose=purpose, at=at
            )
            if subject_id is not None
            else None
        )
        audit(
            session,
            container,
            principal,
            request,
            "read",
            subject_id=subject_id,
            controllers=[controller],
            outcome="ok" if subject_id else "not_found",
        )
    return subject_id, result


class CheckItem(BaseModel):
    identity: str = Field(min_length=3, max_length=300, examples=["msisdn:+37129123456"])
    purpose: str = Field(min_length=1, max_length=64)


class BatchCheck(BaseModel):
    controller: str = Field(min_length=1, max_length=64)
    items: list[CheckItem] = Field(min_length=1, max_length=MAX_BATCH_CHECK)


class BatchCheckRead(BaseModel):
    results: list[ConsentCheckRead] = Field(description="One answer per item, in the order of `items`.")


@router.post("/consents/checks", response_model=BatchCheckRead, responses=error_responses(400, 413))
async def check_many(
    body: BatchCheck, request: Request, container: ContainerDep, principal: Checker
) -> Response:
    """The consent check for up to 1,000 (identity, purpose) pairs of one controller in one call,
    answered in order: may each person be processed for that purpose now? Unknown people: not
    allowed. One access-log entry per pair, as for single checks. A bad identity or an unknown
    purpose refuses the whole call (422), naming the first bad item."""
    require_controller(principal, body.controller)
    container.registry.policy_for(body.controller)  # an unknown controller: 422 naming it
    region = container.settings.default_region
    pairs = []
    checked: set[str] = set()
    for n, item in enumerate(body.items):
        field = "purpose"
        try:
            if item.purpose not in checked:
                container.registry.purpose(body.controller, item.purpose)
                checked.add(item.purpose)
            field = "identity"
            pairs.append((parse_identity(item.identity, region=region), item.purpose))
        except InvalidInput as exc:
            where = f"items.{n}.{field}"
            raise InvalidInput(f"{where}: {exc.message}", field=where) from None
    # In the single checks' group commit, as one caller: one transaction, its rows with theirs.
    access = access_entry(container, principal, request, "read", body.controller)
    checks: GroupCommit[CheckRequest, tuple[str | None, ConsentCheck]] = request.app.state.consent_checks
    answers = await checks.submit_many(
        [CheckRequest(identity, body.controller, purpose, access) for identity, purpose in pairs]
    )
    results = [
        {"allowed": a.allowed, "status": a.status, "since": a.since, "event_id": a.event_id}
        for _, a in answers
    ]
    # Validated from plain dicts in one pass of pydantic-core, then written as JSON directly.
    payload = BatchCheckRead.model_validate({"results": results}).model_dump_json()
    return Response(payload, media_type="application/json")


@router.get(
    "/consents/{event_id}/receipt",
    response_model=dict[str, Any],
    responses={
        **error_responses(404, 409),
        200: {"content": {JWT_MEDIA_TYPE: {"schema": {"type": "string"}}}},
    },
)
def receipt(
    event_id: str,
    request: Request,
    container: ContainerDep,
    principal: Reader,
    lang: Annotated[Literal["lv", "en"], Query()] = "lv",
    download: bool = False,
    format: ReceiptFormat = "json",
    reason: AccessReason = None,
) -> Any:
    """The consent receipt (Kantara CR v1.1 with ISO/IEC TS 27560 fields) for one ledger event.
    Logged in the access log; DPO, admin and auditor must send `X-Access-Reason`.
    `format=jwt`: the receipt signed with the controller's key (a compact JWS, `application/jwt`),
    verifiable offline with the public keys at `/.well-known/jwks.json`; 409 when the controller has
    no signing key."""
    why = stated_reason(principal, "subject.read", reason)
    with container.sessions.begin() as session:
        event = get_event(session=session, event_id=event_id)
        require_controller(principal, event.controller)
        audit(
            session,
            container,
            principal,
            request,
            "read",
            subject_id=event.subject_id,
            controllers=[event.controller],
            reason=why,
        )
        policy = policy_as_published(
            session=session,
            registry=container.registry,
            policy_id=event.policy_id,
            version=event.policy_version,
        )
    receipt = build_receipt(event=event, policy=policy, language=lang)
    return receipt_response(container, receipt, fmt=format, download=download)
