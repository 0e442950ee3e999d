"""Public endpoints for website visitors (R-WEB-1) and e-mail events (R-WEB-2); no token.

- `GET /web/cookie-categories?controller=&lang=`: what the cookie banner shows.
- `GET /web/sargs-consent.js?controller=`: the banner script with the website's Consent Mode
  settings built in, so that its regional defaults are set before any tag runs.
- `POST /web/cookie-consents`: one visitor's choice, kept as proof; `Sec-GPC: 1` (or `gpc: true`)
  refuses marketing categories whatever was ticked. Answer: the receipt.
- `POST /mail/events`: bounces and spam complaints from the mail provider, signed like the SMS
  webhook (`X-Sargs-Signature: sha256=<hex HMAC-SHA256 of the body, key SARGS_MAIL_WEBHOOK_SECRET>`).
- `POST /mail/conversions`: the shop reports a purchase or order made after a tracked click,
  with the click's token (`sargs_t`); recorded only under tracking consent.

Browsers may call the cookie endpoints from the origins the policies list in `web.allowed_origins`
(CORS, see sargs.entrypoints.web.visitors); each client address is rate limited.
"""

from __future__ import annotations

import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sargs.core.config import DEFAULT_SECRET
from sargs.core.errors import InvalidInput, NotFound, PermissionDenied
from sargs.domains.access.sessions import resolve_session
from sargs.domains.sms.signatures import matches, sign_json
from sargs.domains.web.cookies import banner, banner_preset, record_choice
from sargs.domains.web.tracking import click_of, record_failure, record_interaction
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.api.schemas import ErrorRead, error_responses
from sargs.entrypoints.container import Container
from sargs.entrypoints.offload import blocking
from sargs.integrations.ratelimit import RateLimiter

router = APIRouter(tags=["web"])
MAX_BODY = 16 * 1024
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorRead, "description": "Too many requests from this address; wait a minute."}
}
PORTAL_COOKIE = "sargs_portal"  # the portal's session cookie (sent when Sargs and the site share an origin)


def limiter(request: Request, name: str, limit: int) -> RateLimiter:
    """The endpoint's per-address limit, per minute, shared by every process when Redis is set.
    It fails open: with Redis unreachable the banner and choices still work (a warning is logged)."""
    container: Container = request.app.state.container
    return container.rate_limits.limiter(name, limit=limit, per=60.0, fail_open=True)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class CategoryRead(BaseModel):
    id: str
    title: str
    description: str
    required: bool
    marketing: bool
    consent_types: list[str] = Field(description="Google Consent Mode types the category grants.")


class RegionDefaultRead(BaseModel):
    region: list[str]
    granted: list[str]


class ConsentModeRead(BaseModel):
    """Google Consent Mode v2 / Microsoft UET settings for the banner script."""

    wait_for_update_ms: int
    regions: list[RegionDefaultRead]


class BannerRead(BaseModel):
    controller: str
    controller_name: str
    policy_id: str
    policy_version: str
    privacy_policy_url: str | None
    language: str
    gpc: bool
    categories: list[CategoryRead]
    text: dict[str, str]
    consent_mode: ConsentModeRead


class ChoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor_id: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    controller: str = Field(min_length=1, max_length=64)
    accepted: list[str] = Field(default_factory=list, max_length=32)
    gpc: bool = False
    language: str = Field(default="lv", pattern=r"^[a-z]{2,3}$", description="The banner's language.")


class ReceiptRead(BaseModel):
    receipt_id: str
    visitor_id: str
    controller: str
    policy: dict[str, str]
    accepted: list[str]
    refused: list[str]
    global_privacy_control: bool
    recorded_at: str
    digest: str
    linked_to_subject: bool


def gpc_header(request: Request) -> bool:
    return request.headers.get("sec-gpc", "").strip() == "1"


@router.get(
    "/web/cookie-categories",
    response_model=BannerRead,
    responses={**error_responses(422, 503), **RATE_LIMITED},
)
def cookie_categories(
    request: Request,
    container: ContainerDep,
    controller: str = Query(min_length=1, max_length=64),
    lang: str | None = Query(
        default=None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$",
        description="The page's language (`lv`, `lv-LV`, `pt-BR`); one the banner or the policy "
        "has no texts in, or none, is the policy's default language.",
    ),
) -> BannerRead:
    """The cookie categories, banner texts and consent-mode settings of a controller's website."""
    limiter(request, "categories", 5 * container.settings.web_rate_limit_per_minute).hit(client_key(request))
    b = banner(registry=container.registry, controller=controller, language=lang)
    return BannerRead(
        controller=b.controller,
        controller_name=b.controller_name,
        policy_id=b.policy_id,
        policy_version=b.policy_version,
        privacy_policy_url=b.privacy_policy_url,
        language=b.language,
        gpc=gpc_header(request),
        categories=[CategoryRead(**c) for c in b.categories],
        text=b.text,
        consent_mode=ConsentModeRead.model_validate(b.consent_mode),
    )


BANNER_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "sargs-consent.js"
PRESET = "/*sargs:consent-mode*/null"  # where the script takes a website's settings


@cache
def banner_source() -> str:
    source = BANNER_JS.read_text(encoding="utf-8")
    assert source.count(PRESET) == 1, f"{BANNER_JS.name} lost its {PRESET} placeholder"
    return source


@router.get(
    "/web/sargs-consent.js",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, **error_responses(422)},
)
def banner_script(container: ContainerDep, controller: str = Query(min_length=1, max_length=64)) -> Response:
    """The banner script of one website: /static/sargs-consent.js with the website's controller
    and Consent Mode settings (regional defaults, wait_for_update) built in, so that they are set
    before any tag runs instead of after the categories arrive."""
    preset = json.dumps(
        banner_preset(registry=container.registry, controller=controller), separators=(",", ":")
    )
    body = banner_source().replace(PRESET, PRESET.removesuffix("null") + preset)
    return Response(
        body,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def _validation_error(exc: ValidationError) -> InvalidInput:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or None
    return InvalidInput(f"{where}: {err['msg']}" if where else err["msg"], field=where)


def save_choice(container: Container, request: Request, raw: bytes) -> ReceiptRead:
    """Validate and store one cookie choice (shared by the API route and the portal's).

    JSON only: a cross-site form cannot send it without a CORS preflight."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise InvalidInput("Content-Type must be application/json", field="content-type")
    try:
        doc = ChoiceCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    with container.sessions.begin() as session:
        now = container.clock.now()
        subject_id = None
        token = request.cookies.get(PORTAL_COOKIE)
        if token:
            active = resolve_session(session=session, token=token, kind="subject", now=now)
            subject_id = active.owner_id if active else None
        choice = record_choice(
            session=session,
            registry=container.registry,
            visitor_id=doc.visitor_id,
            controller=doc.controller,
            accepted=doc.accepted,
            gpc=doc.gpc or gpc_header(request),
            language=doc.language,
            now=now,
            subject_id=subject_id,
        )
    return ReceiptRead(**choice.receipt(), linked_to_subject=choice.linked)


async def _read_small(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InvalidInput(f"the body is larger than {MAX_BODY} bytes")
    return raw


@router.post(
    "/web/cookie-consents",
    status_code=201,
    response_model=ReceiptRead,
    responses={**error_responses(422, 503), **RATE_LIMITED},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ChoiceCreate.model_json_schema()}},
        }
    },
)
async def cookie_consent(request: Request, container: ContainerDep) -> JSONResponse:
    """Record a visitor's cookie choice; the answer is its receipt."""
    limiter(request, "consents", container.settings.web_rate_limit_per_minute).hit(client_key(request))
    raw = await _read_small(request)
    receipt = await blocking(save_choice, container, request, raw)
    return JSONResponse(receipt.model_dump(mode="json"), status_code=201)


# --- e-mail: provider webhook and conversions ---------------------------------------------------


class MailEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")
    type: Literal["bounce", "complaint"]
    detail: str | None = Field(default=None, max_length=500)


class MailEventRead(BaseModel):
    event_id: str
    consent_withdrawn: str | None


@router.post(
    "/mail/events",
    status_code=201,
    response_model=MailEventRead,
    responses=error_responses(403, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": MailEvent.model_json_schema()}},
        }
    },
)
async def mail_event(request: Request, container: ContainerDep) -> JSONResponse:
    """A bounce or spam complaint from the mail provider (signed); a complaint withdraws the consent."""
    secret = container.settings.mail_webhook_secret
    if hmac.compare_digest(secret.encode(), DEFAULT_SECRET.encode()) and not container.settings.demo:
        raise PermissionDenied("mail webhooks are off until SARGS_MAIL_WEBHOOK_SECRET is set")
    raw = await _read_small(request)
    if not matches(request.headers.get("x-sargs-signature", ""), sign_json(secret, raw)):
        raise PermissionDenied("bad or missing X-Sargs-Signature (HMAC-SHA256 of the body, 'sha256=<hex>')")
    try:
        doc = MailEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_error(exc) from None

    def work() -> tuple[str, str | None]:
        with container.sessions.begin() as session:
            detail: dict[str, Any] = {"detail": doc.detail} if doc.detail else {}
            return record_failure(
                session=session,
                registry=container.registry,
                message_id=doc.message_id,
                kind=doc.type,
                now=container.clock.now(),
                detail=detail,
            )

    event_id, withdrawn = await blocking(work)
    return JSONResponse({"event_id": event_id, "consent_withdrawn": withdrawn}, status_code=201)


class ConversionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        pattern=r"^[0-9a-f]{32}$", description="The `sargs_t` value the tracked click brought to the page."
    )
    action: Literal["purchase", "order", "signup", "other"] = "purchase"


class ConversionRead(BaseModel):
    recorded: bool


@router.post(
    "/mail/conversions",
    response_model=ConversionRead,
    responses={**error_responses(400, 404, 422, 503), **RATE_LIMITED},
)
def conversion(body: ConversionCreate, request: Request, container: ContainerDep) -> ConversionRead:
    """A purchase or order after a tracked click; recorded only if tracking consent is in force."""
    limiter(request, "conversions", container.settings.web_rate_limit_per_minute).hit(client_key(request))
    with container.sessions.begin() as session:
        link = click_of(session=session, click_id=body.token)
        if link is None:
            raise NotFound("no such click")
        recorded = record_interaction(
            session=session,
            registry=container.registry,
            payload=link,
            kind="conversion",
            now=container.clock.now(),
            detail={"action": body.action},
        )
    return ConversionRead(recorded=recorded is not None)
