"""The self-service portal for data subjects (R-ACC-2; T "Mans LMT → Profils → Piekrišanas"; R 3.4.4).

Sign in with a one-time code; then consents (channel `portal`), history with receipts, contact
details (rectification), a request, and sign out. Every page works without JavaScript; htmx
only saves the consent form in place.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.errors import InvalidInput, NotFound, RateLimited, RateLimitUnavailable
from sargs.domains.access.scope import subject_controllers
from sargs.domains.access.sessions import end_session, open_session
from sargs.domains.audit.service import AccessAction, Accessor, log_access
from sargs.domains.consent.receipts import build_receipt
from sargs.domains.consent.service import get_event, history
from sargs.domains.policy.registry import policy_as_published
from sargs.domains.portal.service import (
    confirm_contact_change,
    finish_sign_in,
    offered_purposes,
    read_identity,
    set_consents,
    start_contact_change,
    start_sign_in,
)
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import view_subject
from sargs.entrypoints.api.deps import ContainerDep, pseudonymise_ip, route_name
from sargs.entrypoints.container import Container
from sargs.entrypoints.receipts import JWKS_PATH, ReceiptFormat, receipt_response, signing_kid
from sargs.entrypoints.web.i18n import keep_lang, language_of
from sargs.entrypoints.web.render import is_htmx, render
from sargs.entrypoints.web.security import (
    PORTAL_COOKIE,
    PRE_COOKIE,
    SubjectDep,
    SubjectUser,
    check_csrf,
    limit_signins,
    set_cookie,
)

router = APIRouter()

Csrf = Annotated[str, Form(alias="csrf")]


def page(request: Request, container: Container, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return render(request, container, name, cookie=PORTAL_COOKIE, status=status, **ctx)


def _key(container: Container) -> bytes:
    return container.settings.secret_key.encode()


def _lang(request: Request, container: Container) -> str:
    return language_of(request, container.settings.default_language)


def _log(
    session: Any,
    container: Container,
    request: Request,
    subject_id: str | None,
    action: AccessAction,
    *,
    controllers: list[str] | None = None,
    outcome: str = "ok",
) -> None:
    log_access(
        session=session,
        actor=Accessor.subject(subject_id) if subject_id else Accessor("anonymous", None),
        route=route_name(request),
        action=action,
        now=container.clock.now(),
        subject_id=subject_id,
        controllers=controllers or (None,),
        outcome=outcome,
    )


# --- signing in and out -----------------------------------------------------------------------


@router.get("/")
def portal_home(request: Request) -> Response:
    target = "/portal/consents" if request.cookies.get(PORTAL_COOKIE) else "/portal/signin"
    return RedirectResponse(keep_lang(request, target), status_code=303)


@router.get("/signin")
def signin_page(request: Request, container: ContainerDep) -> HTMLResponse:
    return page(request, container, "portal/signin.html")


@router.post("/signin")
def signin(
    request: Request,
    container: ContainerDep,
    csrf: Csrf,
    identity: Annotated[str, Form(max_length=300)],
) -> HTMLResponse:
    """Send a code. The answer is the same whether or not the phone or e-mail is known."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    try:
        limit_signins(request, container, "portal-signin")
        ident = _read_identity(container, identity)
        with container.sessions.begin() as session:
            challenge = start_sign_in(
                session=session,
                key=_key(container),
                identity=ident,
                sender=container.code_sender,
                now=container.clock.now(),
                language=_lang(request, container),
            )
    except InvalidInput as exc:
        return page(
            request, container, "portal/signin.html", status=422, error=exc.message, identity=identity
        )
    except RateLimited as exc:
        status = 503 if isinstance(exc, RateLimitUnavailable) else 429
        return page(request, container, "portal/signin.html", status=status, rate_limited=True)
    return page(request, container, "portal/code.html", challenge=challenge, action="/portal/verify")


def _read_identity(container: Container, text: str) -> Identity:
    return read_identity(text, region=container.settings.default_region)


@router.post("/verify")
def verify(
    request: Request,
    container: ContainerDep,
    csrf: Csrf,
    challenge: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    """Check the code; on success the person is signed in."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    now = container.clock.now()
    opened = None
    with container.sessions.begin() as session:
        subject_id = finish_sign_in(
            session=session, key=_key(container), challenge=challenge, code=code, now=now
        )
        if subject_id is not None:
            opened = open_session(session=session, kind="subject", owner_id=subject_id, now=now)
            _log(session, container, request, subject_id, "signin")
    if opened is None:
        return page(
            request,
            container,
            "portal/code.html",
            status=401,
            challenge=challenge,
            action="/portal/verify",
            bad=True,
        )
    response = RedirectResponse("/portal/consents", status_code=303)
    set_cookie(response, request, container, PORTAL_COOKIE, opened.token, path="/portal", samesite="lax")
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/signout")
def signout(request: Request, container: ContainerDep, user: SubjectDep, csrf: Csrf) -> Response:
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    with container.sessions.begin() as session:
        end_session(session=session, token=user.session_token, now=container.clock.now())
        _log(session, container, request, user.subject_id, "signout")
    response = RedirectResponse("/portal/signin", status_code=303)
    response.delete_cookie(PORTAL_COOKIE, path="/portal")
    return response


# --- consents -----------------------------------------------------------------------------------


def _consents_ctx(container: Container, session: Any, user: SubjectUser) -> dict[str, Any]:
    offered = offered_purposes(session=session, registry=container.registry, subject_id=user.subject_id)
    groups: dict[str, list[Any]] = {}
    for item in offered:
        groups.setdefault(item.controller, []).append(item)
    names = {c: container.registry.controller(c).short_name for c in groups}
    return {"groups": groups, "names": names}


@router.get("/consents")
def consents_page(request: Request, container: ContainerDep, user: SubjectDep) -> HTMLResponse:
    with container.sessions.begin() as session:
        ctx = _consents_ctx(container, session, user)
        _log(session, container, request, user.subject_id, "read", controllers=list(ctx["groups"]))
    return page(request, container, "portal/consents.html", saved=request.query_params.get("saved"), **ctx)


@router.post("/consents")
def consents_save(
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    controller: Annotated[str, Form(max_length=64)],
    shown: Annotated[list[str] | None, Form()] = None,
    granted: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Apply the ticked and cleared boxes of one company (channel `portal`, the person as actor)."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    evidence: dict[str, Any] = {"session": "portal"}
    ip = pseudonymise_ip(container, request.client.host if request.client else None)
    if ip:
        evidence["ip"] = ip
    with container.sessions.begin() as session:
        outcomes = set_consents(
            session=session,
            registry=container.registry,
            subject_id=user.subject_id,
            controller=controller,
            granted=set(granted or []),
            shown=set(shown or []),
            now=container.clock.now(),
            evidence=evidence,
        )
        _log(session, container, request, user.subject_id, "change", controllers=[controller])
        ctx = _consents_ctx(container, session, user)
    problems = [o.rejection.message for o in outcomes if o.rejection is not None]
    if is_htmx(request):
        return page(
            request,
            container,
            "portal/_consent_form.html",
            controller=controller,
            items=ctx["groups"].get(controller, []),
            controller_name=ctx["names"].get(controller, controller),
            saved=not problems,
            problems=problems,
        )
    if problems:
        return page(request, container, "portal/consents.html", status=422, problems=problems, **ctx)
    return RedirectResponse("/portal/consents?saved=1", status_code=303)


# --- history and receipts -----------------------------------------------------------------------


@router.get("/history")
def history_page(request: Request, container: ContainerDep, user: SubjectDep) -> HTMLResponse:
    lang = _lang(request, container)
    with container.sessions.begin() as session:
        events = list(reversed(history(session=session, subject_id=user.subject_id)))
        _log(session, container, request, user.subject_id, "read")
    titles = {}
    for e in events:
        try:
            titles[(e.controller, e.purpose)] = container.registry.purpose(e.controller, e.purpose).title.get(
                lang
            )
        except InvalidInput:
            titles[(e.controller, e.purpose)] = e.purpose
    return page(request, container, "portal/history.html", events=events, titles=titles)


def _own_receipt(request: Request, container: Container, user: SubjectUser, event_id: str) -> tuple[Any, Any]:
    with container.sessions.begin() as session:
        event = get_event(session=session, event_id=event_id)
        if event.subject_id != user.subject_id:
            raise NotFound("no such consent event")
        policy = policy_as_published(
            session=session,
            registry=container.registry,
            policy_id=event.policy_id,
            version=event.policy_version,
        )
        _log(session, container, request, user.subject_id, "read", controllers=[event.controller])
    return build_receipt(event=event, policy=policy, language=_lang(request, container)), event


@router.get("/receipts/{event_id}")
def receipt_page(event_id: str, request: Request, container: ContainerDep, user: SubjectDep) -> HTMLResponse:
    receipt, event = _own_receipt(request, container, user, event_id)
    download = f"/portal/receipts/{event_id}/download?lang={_lang(request, container)}"
    kid = signing_kid(container, receipt)
    return page(
        request,
        container,
        "portal/receipt.html",
        receipt=receipt,
        event=event,
        download=download,
        download_jwt=f"{download}&format=jwt" if kid else None,
        signed_kid=kid,
        jwks=JWKS_PATH,
    )


@router.get("/receipts/{event_id}/download")
def receipt_download(
    event_id: str, request: Request, container: ContainerDep, user: SubjectDep, format: ReceiptFormat = "json"
) -> Response:
    """The person's own receipt as a file: JSON, or with `format=jwt` signed by the controller."""
    receipt, _ = _own_receipt(request, container, user, event_id)
    return receipt_response(container, receipt, fmt=format, download=True)


# --- contact details (rectification, R 6.1) -------------------------------------------------------


def _contact_page(
    request: Request, container: Container, user: SubjectUser, status: int = 200, **extra: Any
) -> HTMLResponse:
    with container.sessions.begin() as session:
        view = view_subject(session=session, subject_id=user.subject_id)
        _log(session, container, request, user.subject_id, "read")
    return page(request, container, "portal/contact.html", status=status, subject=view, **extra)


@router.get("/contact")
def contact_page(request: Request, container: ContainerDep, user: SubjectDep) -> HTMLResponse:
    return _contact_page(request, container, user, changed=request.query_params.get("changed"))


@router.post("/contact")
def contact_start(
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    value: Annotated[str, Form(max_length=300)],
    replace: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Send a code to the new address; it is added once the person types the code back."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    try:
        ident = _read_identity(container, value)
        with container.sessions.begin() as session:
            challenge = start_contact_change(
                session=session,
                key=_key(container),
                subject_id=user.subject_id,
                identity=ident,
                replace=replace,
                sender=container.code_sender,
                now=container.clock.now(),
                language=_lang(request, container),
            )
    except InvalidInput as exc:
        return _contact_page(request, container, user, status=422, error=exc.message)
    except RateLimited:
        return _contact_page(request, container, user, status=429, rate_limited=True)
    return page(request, container, "portal/code.html", challenge=challenge, action="/portal/contact/verify")


@router.post("/contact/verify")
def contact_verify(
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    challenge: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=20)],
) -> Response:
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    with container.sessions.begin() as session:
        changed = confirm_contact_change(
            session=session,
            key=_key(container),
            subject_id=user.subject_id,
            challenge=challenge,
            code=code,
            now=container.clock.now(),
        )
        if changed is not None:
            controllers = sorted(subject_controllers(session=session, subject_id=user.subject_id))
            _log(session, container, request, user.subject_id, "change", controllers=controllers)
    if changed is None:
        return page(
            request,
            container,
            "portal/code.html",
            status=401,
            challenge=challenge,
            action="/portal/contact/verify",
            bad=True,
        )
    return RedirectResponse("/portal/contact?changed=1", status_code=303)
