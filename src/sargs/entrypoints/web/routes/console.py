"""The staff console: sign in, find a person, see and record consents, receipts, staff, access log."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.errors import (
    InvalidInput,
    NotFound,
    ReasonRequired,
    SargsError,
)
from sargs.domains.access.permissions import GRANTABLE_ROLES
from sargs.domains.access.scope import visible_controllers
from sargs.domains.audit.service import query_access_log
from sargs.domains.consent.receipts import build_receipt
from sargs.domains.consent.service import (
    Actor,
    current_states,
    get_event,
    history,
    record_consent,
    rejections,
)
from sargs.domains.policy.registry import policy_as_published
from sargs.domains.sms.history import messages_of
from sargs.domains.staff.service import add_staff, disable_staff, list_staff
from sargs.domains.subjects.identifiers import make_identity
from sargs.domains.subjects.service import find_subject_id, view_subject
from sargs.entrypoints.api.deps import ContainerDep, audit, pseudonymise_ip, stated_reason
from sargs.entrypoints.container import Container
from sargs.entrypoints.receipts import JWKS_PATH, ReceiptFormat, receipt_response, signing_kid
from sargs.entrypoints.web.i18n import language_of
from sargs.entrypoints.web.render import is_htmx, render
from sargs.entrypoints.web.security import (
    STAFF_COOKIE,
    StaffDep,
    StaffPermit,
    StaffUser,
    check_csrf,
)

router = APIRouter()

Reader = Annotated[StaffUser, Depends(StaffPermit("subject.read"))]
Writer = Annotated[StaffUser, Depends(StaffPermit("consent.write"))]
Manager = Annotated[StaffUser, Depends(StaffPermit("staff.manage"))]
AuditReader = Annotated[StaffUser, Depends(StaffPermit("audit.read"))]
Csrf = Annotated[str, Form(alias="csrf")]
Reason = Annotated[str | None, Query(max_length=500)]


def page(request: Request, container: Container, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return render(request, container, name, cookie=STAFF_COOKIE, status=status, **ctx)


def render_lang(request: Request, container: Container) -> str:
    return language_of(request, container.settings.default_language)


def with_reason(path: str, reason: str | None, **params: str) -> str:
    """A console URL that carries the stated reason on to the next page."""
    query = {**params, **({"reason": reason} if reason else {})}
    return path + ("?" + urlencode(query) if query else "")


def _staff_ctx(user: StaffUser) -> dict[str, Any]:
    return {"me": user.principal}


# --- finding a person ---------------------------------------------------------------------------


@router.get("/")
def home(request: Request, container: ContainerDep, user: StaffDep) -> HTMLResponse:
    return page(request, container, "console/home.html", **_staff_ctx(user))


@router.get("/find")
def find(
    request: Request,
    container: ContainerDep,
    user: Reader,
    kind: Annotated[str, Query(max_length=16)] = "msisdn",
    value: Annotated[str, Query(max_length=300)] = "",
    reason: Reason = None,
) -> Response:
    """Find a person by phone, e-mail or customer number, within the staff member's companies."""
    principal = user.principal
    ctx: dict[str, Any] = {**_staff_ctx(user), "kind": kind, "value": value, "reason": reason or ""}
    partial = "console/_found.html" if is_htmx(request) else "console/home.html"
    try:
        why = stated_reason(principal, "subject.read", reason)
        identity = make_identity(kind, value, region=container.settings.default_region)
    except (ReasonRequired, InvalidInput) as exc:
        return page(
            request, container, partial, status=200 if is_htmx(request) else 422, error=exc.message, **ctx
        )
    with container.sessions.begin() as session:
        subject_id = find_subject_id(session=session, identity=identity)
        seen: list[str] | None = None
        if subject_id is not None:
            try:
                seen = visible_controllers(session=session, principal=principal, subject_id=subject_id)
            except NotFound:
                seen = None
        outcome = "ok" if seen is not None else ("not_found" if subject_id is None else "out_of_scope")
        audit(
            session,
            container,
            principal,
            request,
            "read",
            subject_id=subject_id,
            controllers=seen,
            reason=why,
            outcome=outcome,
        )
    if seen is None:
        # htmx swaps only 2xx answers; the partial itself says "not found".
        return page(
            request, container, partial, status=200 if is_htmx(request) else 404, not_found=True, **ctx
        )
    target = with_reason(f"/console/subjects/{subject_id}", why)
    if is_htmx(request):
        return page(request, container, partial, found=subject_id, target=target, **ctx)
    return RedirectResponse(target, status_code=303)


def _subject_context(
    container: Container, user: StaffUser, subject_id: str, lang: str, session: Any
) -> dict[str, Any]:
    principal = user.principal
    seen = visible_controllers(session=session, principal=principal, subject_id=subject_id)
    view = view_subject(session=session, subject_id=subject_id)
    states = [
        s for s in current_states(session=session, subject_id=subject_id) if principal.may_see(s.controller)
    ]
    events = [e for e in history(session=session, subject_id=subject_id) if principal.may_see(e.controller)]
    refused = [
        r for r in rejections(session=session, subject_id=subject_id) if principal.may_see(r.controller)
    ]
    messages = messages_of(
        session=session, subject_id=subject_id, controllers=None if principal.controllers is None else seen
    )
    titles: dict[tuple[str, str], str] = {}
    names: dict[str, str] = {}
    recordable: list[tuple[str, str, str]] = []
    for controller in container.registry.controller_ids:
        if not principal.may_see(controller):
            continue
        names[controller] = container.registry.controller(controller).short_name
        for p in container.registry.policy_for(controller).purposes_of(controller):
            titles[(controller, p.id)] = p.title.get(lang)
            if p.needs_consent and "staff" in p.consent_channels:
                recordable.append((controller, p.id, p.title.get(lang)))
    return {
        "subject": view,
        "controllers": seen,
        "states": states,
        "events": list(reversed(events)),
        "refusals": refused,
        "messages": messages,
        "names": names,
        "titles": titles,
        "recordable": recordable,
    }


@router.get("/subjects/{subject_id}")
def subject_page(
    subject_id: str, request: Request, container: ContainerDep, user: Reader, reason: Reason = None
) -> HTMLResponse:
    """One person: identifiers, current consents, full history, and the in-person record form."""
    try:
        why = stated_reason(user.principal, "subject.read", reason)
    except ReasonRequired:
        return page(
            request, container, "console/reason.html", status=403, action=request.url.path, **_staff_ctx(user)
        )
    lang = render_lang(request, container)
    with container.sessions.begin() as session:
        ctx = _subject_context(container, user, subject_id, lang, session)
        audit(
            session,
            container,
            user.principal,
            request,
            "read",
            subject_id=subject_id,
            controllers=ctx["controllers"],
            reason=why,
        )
    return page(request, container, "console/subject.html", reason=why or "", **ctx, **_staff_ctx(user))


@router.post("/subjects/{subject_id}/consents")
def record(
    subject_id: str,
    request: Request,
    container: ContainerDep,
    user: Writer,
    csrf: Csrf,
    choice: Annotated[str, Form(max_length=130, description="controller/purpose")],
    action: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record a consent given, withdrawn or refused in person (channel `staff`, operator as evidence)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    controller, _, purpose = choice.partition("/")
    principal = user.principal
    principal.require_controller(controller)
    now = container.clock.now()
    evidence: dict[str, Any] = {"operator": principal.id, "place": "customer centre"}
    ip = pseudonymise_ip(container, request.client.host if request.client else None)
    if ip:
        evidence["ip"] = ip
    with container.sessions.begin() as session:
        visible_controllers(session=session, principal=principal, subject_id=subject_id)
        outcome = record_consent(
            session=session,
            registry=container.registry,
            subject_id=subject_id,
            controller=controller,
            purpose=purpose,
            action=action,
            channel="staff",
            actor=Actor("staff", principal.id),
            now=now,
            evidence=evidence,
            clock=container.clock.now,
        )
        audit(
            session,
            container,
            principal,
            request,
            "change",
            subject_id=subject_id,
            controllers=[controller],
            outcome="rejected" if outcome.rejection else "ok",
        )
    if outcome.rejection is not None or outcome.event is None:
        message = outcome.rejection.message if outcome.rejection else "not recorded"
        return page(
            request,
            container,
            "error.html",
            status=422,
            message=message,
            code="not_eligible",
            home=f"/console/subjects/{subject_id}",
            **_staff_ctx(user),
        )
    return RedirectResponse(with_reason(f"/console/receipts/{outcome.event.id}", reason), status_code=303)


# --- receipts -----------------------------------------------------------------------------------


def _receipt(
    request: Request, container: Container, user: StaffUser, event_id: str, reason: str | None, lang: str
) -> tuple[dict[str, Any], Any]:
    why = stated_reason(user.principal, "subject.read", reason)
    with container.sessions.begin() as session:
        event = get_event(session=session, event_id=event_id)
        user.principal.require_controller(event.controller)
        policy = policy_as_published(
            session=session,
            registry=container.registry,
            policy_id=event.policy_id,
            version=event.policy_version,
        )
        audit(
            session,
            container,
            user.principal,
            request,
            "read",
            subject_id=event.subject_id,
            controllers=[event.controller],
            reason=why,
        )
    return build_receipt(event=event, policy=policy, language=lang), event


@router.get("/receipts/{event_id}")
def receipt_page(
    event_id: str, request: Request, container: ContainerDep, user: Reader, reason: Reason = None
) -> HTMLResponse:
    """A printable consent receipt."""
    lang = render_lang(request, container)
    try:
        receipt, event = _receipt(request, container, user, event_id, reason, lang)
    except ReasonRequired:
        return page(
            request, container, "console/reason.html", status=403, action=request.url.path, **_staff_ctx(user)
        )
    kid = signing_kid(container, receipt)
    return page(
        request,
        container,
        "console/receipt.html",
        receipt=receipt,
        event=event,
        download=with_reason(f"/console/receipts/{event_id}/download", reason, lang=lang),
        download_jwt=with_reason(f"/console/receipts/{event_id}/download", reason, lang=lang, format="jwt")
        if kid
        else None,
        signed_kid=kid,
        jwks=JWKS_PATH,
        **_staff_ctx(user),
    )


@router.get("/receipts/{event_id}/download")
def receipt_download(
    event_id: str,
    request: Request,
    container: ContainerDep,
    user: Reader,
    reason: Reason = None,
    format: ReceiptFormat = "json",
) -> Response:
    """The receipt as a file: JSON (Kantara CR v1.1 with ISO/IEC TS 27560 fields), or with
    `format=jwt` signed with the controller's key."""
    receipt, _ = _receipt(request, container, user, event_id, reason, render_lang(request, container))
    return receipt_response(container, receipt, fmt=format, download=True)


# --- staff accounts -----------------------------------------------------------------------------


def _staff_page(
    request: Request, container: Container, user: StaffUser, status: int = 200, **extra: Any
) -> HTMLResponse:
    with container.read_sessions.begin() as session:
        members = list_staff(session=session, by=user.principal)
    controllers = [c for c in container.registry.controller_ids if user.principal.may_see(c)]
    roles = sorted(GRANTABLE_ROLES.get(user.principal.role, frozenset()))
    return page(
        request,
        container,
        "console/staff.html",
        status=status,
        members=members,
        roles=roles,
        controllers=controllers,
        **extra,
        **_staff_ctx(user),
    )


@router.get("/staff")
def staff_page(request: Request, container: ContainerDep, user: Manager) -> HTMLResponse:
    return _staff_page(request, container, user)


@router.post("/staff")
def staff_add(
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    email: Annotated[str, Form(max_length=254)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=500)],
    controllers: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a staff account (the DPO's "create an operator")."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        for controller in controllers or []:
            container.registry.policy_for(controller)  # an unknown company is InvalidInput, as in the API
        with container.sessions.begin() as session:
            add_staff(
                session=session,
                email=email,
                name=name,
                role=role,
                password=password,
                controllers=controllers or None,
                now=container.clock.now(),
                by=user.principal,
            )
            audit(session, container, user.principal, request, "change", controllers=controllers or None)
    except SargsError as exc:
        return _staff_page(request, container, user, status=422, error=exc.message)
    return RedirectResponse("/console/staff?added=1", status_code=303)


@router.post("/staff/disable")
def staff_disable(
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    email: Annotated[str, Form(max_length=254)],
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            view = disable_staff(session=session, email=email, now=container.clock.now(), by=user.principal)
            audit(session, container, user.principal, request, "change", controllers=view.controllers)
    except SargsError as exc:
        return _staff_page(request, container, user, status=422, error=exc.message)
    return RedirectResponse("/console/staff", status_code=303)


# --- access log ---------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    container: ContainerDep,
    user: AuditReader,
    subject: Annotated[str, Query(max_length=300)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    before: int | None = None,
) -> HTMLResponse:
    """Who read or changed whose data, newest first."""
    subject_id: str | None = subject.strip() or None
    with container.sessions.begin() as session:
        if subject_id and ":" in subject_id:
            kind, _, raw = subject_id.partition(":")
            try:
                ident = make_identity(kind, raw, region=container.settings.default_region)
                subject_id = find_subject_id(session=session, identity=ident) or "-"
            except InvalidInput:
                subject_id = "-"
        elif subject_id and len(subject_id) > 32:
            subject_id = "-"  # longer than any subject id (and than the access log's column)
        result = query_access_log(
            session=session,
            viewer=user.principal,
            subject_id=subject_id,
            actor_id=actor.strip() or None,
            before=before,
            limit=100,
        )
        audit(
            session,
            container,
            user.principal,
            request,
            "read",
            subject_id=subject_id if subject_id != "-" else None,
            controllers=user.principal.controllers,
        )
    return page(
        request,
        container,
        "console/audit.html",
        entries=result.items,
        next_before=result.next_before,
        subject=subject,
        actor=actor,
        **_staff_ctx(user),
    )
