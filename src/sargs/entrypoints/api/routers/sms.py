"""SMS keyword webhooks (R-SMS-3) and the operator's view of a person's messages.

`POST /sms/inbound` takes either
- JSON `{message_id, from, to, text, received_at?, language?}` signed with
  `X-Sargs-Signature: sha256=<hex HMAC-SHA256 of the raw body, key SARGS_SMS_WEBHOOK_SECRET>`;
  a replayed request is harmless (the message id makes it a duplicate); or
- Twilio's form-encoded callback (MessageSid, From, To, Body) with its `X-Twilio-Signature`
  (HMAC-SHA1 over the URL and sorted parameters, key SARGS_SMS_TWILIO_AUTH_TOKEN), answered with
  empty TwiML: the reply goes out through the outbox, which survives restarts and retries.
A bad signature is 403 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, NotFound, PermissionDenied
from sargs.core.group_commit import GroupCommit, each_in_order
from sargs.domains.sms.history import MessageView, messages_of
from sargs.domains.sms.service import InboundMessage, InboundResult, handle_inbound
from sargs.domains.sms.signatures import matches, sign_json, twilio_signature
from sargs.domains.subjects.identifiers import parse_identity
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import AccessReason, ContainerDep, Permit, audit, open_person, stated_reason
from sargs.entrypoints.api.errors import error_body
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, ErrorRead, error_responses
from sargs.entrypoints.container import Container

router = APIRouter(tags=["sms"])

MAX_BODY = 16 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
Reader = Annotated[Principal, Depends(Permit("subject.read"))]


class InboundJson(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(min_length=1, max_length=128)
    from_: str = Field(alias="from", min_length=1, max_length=32)
    to: str = Field(min_length=1, max_length=32)
    text: str = Field(max_length=1600)
    received_at: datetime | None = None
    language: str | None = Field(
        default=None, max_length=8, description="Reply language: one of the catalogues (lv, en, ru, …)."
    )


class ReplyRead(BaseModel):
    id: str | None
    text: str


class InboundRead(BaseModel):
    inbound_id: str
    duplicate: bool
    command: str
    keyword: str | None
    outcome: str
    detail: str | None
    event_ids: list[str]
    reply: ReplyRead

    @classmethod
    def of(cls, r: InboundResult) -> InboundRead:
        return cls(
            inbound_id=r.inbound_id,
            duplicate=r.duplicate,
            command=r.command,
            keyword=r.keyword,
            outcome=r.outcome,
            detail=r.detail,
            event_ids=r.event_ids,
            reply=ReplyRead(id=r.reply_id, text=r.reply_text),
        )


def handle_many(
    container: Container, session: Session, msgs: Sequence[InboundMessage]
) -> list[InboundResult]:
    """The inbound messages of one group commit (core.group_commit) in one transaction, each
    handled as it would be alone; in the order of their senders, so that two processes' groups
    lock the people they share in the same order."""
    return each_in_order(
        msgs,
        lambda msg: msg.sender,
        lambda msg: handle_inbound(
            session=session,
            directory=container.sms,
            msg=msg,
            now=container.clock.now(),
            clock=container.clock.now,
        ),
    )


async def _handle(request: Request, msg: InboundMessage) -> InboundResult:
    """`msg` handled in the next group commit of inbound messages; answered once it committed."""
    inbound: GroupCommit[InboundMessage, InboundResult] = request.app.state.sms_inbound
    return await inbound.submit(msg)


def _called_url(request: Request, container: Container) -> str:
    base = container.settings.public_url
    if not base:
        return str(request.url)
    query = request.url.query
    return base.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def _json_inbound(request: Request, container: Container, raw: bytes) -> Response:
    given = request.headers.get("x-sargs-signature", "")
    if not matches(given, sign_json(container.settings.sms_webhook_secret, raw)):
        raise PermissionDenied("bad or missing X-Sargs-Signature (HMAC-SHA256 of the body, 'sha256=<hex>')")
    try:
        doc = InboundJson.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidInput(f"{where}: {err['msg']}" if where else err["msg"], field=where) from None
    msg = InboundMessage(
        provider="json",
        message_id=doc.message_id,
        sender=doc.from_,
        to=doc.to,
        text=doc.text,
        received_at=doc.received_at,
        language=doc.language,
    )
    result = await _handle(request, msg)
    return JSONResponse(
        InboundRead.of(result).model_dump(mode="json"), status_code=200 if result.duplicate else 201
    )


async def _twilio_inbound(request: Request, container: Container, raw: bytes) -> Response:
    token = container.settings.sms_twilio_auth_token
    if not token:
        raise PermissionDenied(
            "form-encoded (Twilio) callbacks are not enabled: set SARGS_SMS_TWILIO_AUTH_TOKEN"
        )
    try:
        params = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the body is not a valid UTF-8 form") from None
    given = request.headers.get("x-twilio-signature", "")
    expected = twilio_signature(token, _called_url(request, container), params)
    if not matches(given, expected):
        raise PermissionDenied("bad or missing X-Twilio-Signature")
    fields = dict(params)
    missing = [name for name in ("MessageSid", "From", "To") if not fields.get(name)]
    if missing:
        raise InvalidInput(f"missing form field(s): {', '.join(missing)}", field=missing[0])
    msg = InboundMessage(
        provider="twilio",
        message_id=fields["MessageSid"],
        sender=fields["From"],
        to=fields["To"],
        text=fields.get("Body", ""),
    )
    await _handle(request, msg)
    return Response(EMPTY_TWIML, media_type="application/xml")


@router.post(
    "/sms/inbound",
    status_code=201,
    response_model=InboundRead,
    responses={
        200: {
            "model": InboundRead,
            "description": "A duplicate delivery: nothing changed; the first answer is repeated. "
            "Twilio form callbacks are answered with empty TwiML.",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        403: {"model": ErrorRead, "description": "Bad signature: nothing changed."},
        413: {"model": ErrorRead, "description": "Body larger than 16 KiB."},
        415: {"model": ErrorRead, "description": "Neither JSON nor a form."},
        **error_responses(422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": InboundJson.model_json_schema(by_alias=True)},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["MessageSid", "From", "To"],
                        "properties": {
                            name: {"type": "string"} for name in ("MessageSid", "From", "To", "Body")
                        },
                    }
                },
            },
        }
    },
)
async def inbound(request: Request, container: ContainerDep) -> Response:
    """An inbound SMS from the provider: consent event(s) and one queued reply, in one transaction."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        return JSONResponse(error_body("too_large", f"body is larger than {MAX_BODY} bytes"), status_code=413)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return JSONResponse(error_body("too_large", f"body is larger than {MAX_BODY} bytes"), status_code=413)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        return await _json_inbound(request, container, raw)
    if kind == "application/x-www-form-urlencoded":
        return await _twilio_inbound(request, container, raw)
    return JSONResponse(
        error_body(
            "unsupported_media_type", "send application/json or application/x-www-form-urlencoded (Twilio)"
        ),
        status_code=415,
    )


class SmsReplyRead(BaseModel):
    id: str
    text: str
    status: str
    attempts: int
    segments: int
    encoding: str
    sent_at: datetime | None
    last_error: str | None


class SmsMessageRead(BaseModel):
    id: str
    received_at: datetime
    controller: str
    to: str
    text: str
    command: str
    keyword: str | None
    outcome: str
    detail: str | None
    event_ids: list[str]
    reply: SmsReplyRead | None

    @classmethod
    def of(cls, m: MessageView) -> SmsMessageRead:
        return cls.model_validate(
            {**m.__dict__, "reply": None if m.reply is None else m.reply.__dict__},
        )


class SmsMessagesRead(BaseModel):
    subject_id: str
    messages: list[SmsMessageRead]


@router.get(
    "/sms/messages",
    response_model=SmsMessagesRead,
    responses={**AUTHENTICATED_ERRORS, **error_responses(404)},
)
def messages(
    request: Request,
    container: ContainerDep,
    principal: Reader,
    identity: Annotated[str, Query(description="msisdn:+371…, email:… or customer:…", max_length=300)],
    reason: AccessReason = None,
) -> SmsMessagesRead:
    """A person's keyword messages, newest first: what they sent, what came of it, and the reply.
    Logged in the access log; DPO, admin and auditor must send `X-Access-Reason`."""
    why = stated_reason(principal, "subject.read", reason)
    ident = parse_identity(identity, region=container.settings.default_region)
    with container.sessions.begin() as session:
        person = open_person(session, container, principal, request, ident, why)
        if person is not None:
            subject_id, seen = person
            scope = None if principal.controllers is None else seen
            found = messages_of(session=session, subject_id=subject_id, controllers=scope)
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
    if person is None:
        raise NotFound("no data subject has this identity", identity=ident.masked())
    return SmsMessagesRead(subject_id=subject_id, messages=[SmsMessageRead.of(m) for m in found])
