"""Console sign-in: password, then the second factor (or its enrolment), OpenID Connect, sign-out.

After a good password a staff member whose role requires a second factor (or who enrolled one)
gets a short "pending" session (its own cookie) that opens only /console/login/code or
/console/login/enrol; the console session proper is opened after the code. Every step is
rate-limited per client address and failed codes count towards the account's lockout.
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from sargs.core.errors import RateLimited, RateLimitUnavailable, SargsError, Unauthenticated
from sargs.domains.access.principal import Principal
from sargs.domains.access.sessions import end_session, open_session
from sargs.domains.audit.service import Accessor, log_access
from sargs.domains.staff.service import authenticate_staff
from sargs.domains.staff.signin import (
    begin_enrolment,
    finish_enrolment,
    second_factor_for,
    verify_second_factor,
)
from sargs.domains.staff.sso import sign_in_by_claims
from sargs.entrypoints.api.deps import ContainerDep, audit, route_name
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.reauth import staff_mfa_key
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import (
    PENDING_COOKIE,
    PRE_COOKIE,
    STAFF_COOKIE,
    PendingDep,
    StaffDep,
    check_csrf,
    limit_signins,
    set_cookie,
)

router = APIRouter()
Csrf = Annotated[str, Form(alias="csrf")]
Code = Annotated[str, Form(max_length=20)]
OIDC_COOKIE = "sargs_oidc"


def _page(
    request: Request,
    container: Container,
    name: str,
    *,
    cookie: str = STAFF_COOKIE,
    status: int = 200,
    **ctx: object,
) -> HTMLResponse:
    return render(request, container, name, cookie=cookie, status=status, **ctx)


def _limited(request: Request, container: Container, name: str) -> int | None:
    """None if under the limit, else the status to answer (429; 503 while Redis is unreachable)."""
    try:
        limit_signins(request, container, name)
    except RateLimited as exc:
        return 503 if isinstance(exc, RateLimitUnavailable) else 429
    return None


def _signed_in(request: Request, container: Container, principal: Principal, response: Response) -> Response:
    """Open the console session, log the sign-in, and set the cookie on `response`."""
    now = container.clock.now()
    with container.sessions.begin() as session:
        opened = open_session(session=session, kind="staff", owner_id=principal.id, now=now)
        pending = request.cookies.get(PENDING_COOKIE)
        if pending:
            end_session(session=session, token=pending, now=now)
        log_access(
            session=session,
            actor=Accessor.of(principal),
            route=route_name(request),
            action="signin",
            now=now,
            controllers=principal.controllers or (None,),
        )
    set_cookie(response, request, container, STAFF_COOKIE, opened.token, path="/console", samesite="strict")
    response.delete_cookie(PRE_COOKIE, path="/")
    response.delete_cookie(PENDING_COOKIE, path="/console")
    return response


def _after_first_factor(request: Request, container: Container, principal: Principal) -> Response:
    """The console, or the second-factor step in a pending session."""
    with container.sessions.begin() as session:
        step = second_factor_for(
            session=session, staff_id=principal.id, required_roles=container.settings.staff_mfa_roles
        )
        opened = None
        if step != "none":
            opened = open_session(
                session=session, kind="staff-pending", owner_id=principal.id, now=container.clock.now()
            )
    if opened is None:
        return _signed_in(request, container, principal, RedirectResponse("/console/", status_code=303))
    target = "/console/login/code" if step == "totp" else "/console/login/enrol"
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, container, PENDING_COOKIE, opened.token, path="/console", samesite="strict")
    return response


@router.get("/login")
def login_page(request: Request, container: ContainerDep) -> HTMLResponse:
    return _page(request, container, "console/login.html", sso=container.oidc is not None)


@router.post("/login")
def login(
    request: Request,
    container: ContainerDep,
    csrf: Csrf,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=500)],
) -> Response:
    """Password sign-in; failures are counted (and lock the account) even though they fail."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    sso = container.oidc is not None
    if status := _limited(request, container, "console-signin"):
        return _page(
            request, container, "console/login.html", status=status, rate_limited=True, email=email, sso=sso
        )
    principal = None
    with container.sessions.begin() as session:
        try:
            principal = authenticate_staff(
                session=session, email=email, password=password, now=container.clock.now()
            )
        except Unauthenticated:
            principal = None  # committed: the failure counts
    if principal is None:
        return _page(request, container, "console/login.html", status=401, error=True, email=email, sso=sso)
    return _after_first_factor(request, container, principal)


# --- the second factor -------------------------------------------------------------------------


@router.get("/login/code")
def code_page(request: Request, container: ContainerDep, pending: PendingDep) -> HTMLResponse:
    return _page(request, container, "console/login_code.html", cookie=PENDING_COOKIE)


@router.post("/login/code")
def code_submit(
    request: Request, container: ContainerDep, pending: PendingDep, csrf: Csrf, code: Code
) -> Response:
    check_csrf(request, container, PENDING_COOKIE, csrf)
    if status := _limited(request, container, "console-mfa"):
        return _page(
            request,
            container,
            "console/login_code.html",
            cookie=PENDING_COOKIE,
            status=status,
            rate_limited=True,
        )
    principal = None
    with container.sessions.begin() as session:
        try:
            principal = verify_second_factor(
                session=session,
                staff_id=pending.staff_id,
                code=code,
                key=staff_mfa_key(container),
                now=container.clock.now(),
            )
        except Unauthenticated:
            principal = None  # committed: the failure counts
    if principal is None:
        return _page(
            request, container, "console/login_code.html", cookie=PENDING_COOKIE, status=401, error=True
        )
    return _signed_in(request, container, principal, RedirectResponse("/console/", status_code=303))


def _enrol_page(
    request: Request, container: Container, staff_id: str, status: int = 200, **ctx: object
) -> HTMLResponse:
    with container.sessions.begin() as session:
        enrolment = begin_enrolment(session=session, staff_id=staff_id, key=staff_mfa_key(container))
    # Inline SVG markup (paths only, no text; the page's CSP allows no data: images)
    qr = Markup(
        segno.make(enrolment.uri, error="m").svg_inline(scale=5, border=2, omitsize=False, light="#fff")
    )
    return _page(
        request,
        container,
        "console/login_enrol.html",
        cookie=PENDING_COOKIE,
        status=status,
        qr=qr,
        secret=enrolment.secret,
        uri=enrolment.uri,
        **ctx,
    )


@router.get("/login/enrol")
def enrol_page(request: Request, container: ContainerDep, pending: PendingDep) -> HTMLResponse:
    """The authenticator's key and QR code (a role that requires a second factor, not yet enrolled)."""
    return _enrol_page(request, container, pending.staff_id)


@router.post("/login/enrol")
def enrol_submit(
    request: Request, container: ContainerDep, pending: PendingDep, csrf: Csrf, code: Code
) -> Response:
    """Confirm the first code; show the recovery codes once and open the console session."""
    check_csrf(request, container, PENDING_COOKIE, csrf)
    if status := _limited(request, container, "console-mfa"):
        return _enrol_page(request, container, pending.staff_id, status=status, rate_limited=True)
    result = None
    with container.sessions.begin() as session:
        try:
            result = finish_enrolment(
                session=session,
                staff_id=pending.staff_id,
                key=staff_mfa_key(container),
                code=code,
                now=container.clock.now(),
            )
        except Unauthenticated:
            result = None
    if result is None:
        return _enrol_page(request, container, pending.staff_id, status=401, error=True)
    principal, confirmed = result
    codes = _page(request, container, "console/recovery_codes.html", codes=confirmed.recovery_codes)
    return _signed_in(request, container, principal, codes)


# --- OpenID Connect ----------------------------------------------------------------------------


@router.post("/login/sso")
def sso_start(request: Request, container: ContainerDep, csrf: Csrf) -> Response:
    """Send the browser to the identity provider (code flow with PKCE, state and nonce)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    if container.oidc is None:
        return _page(request, container, "console/login.html", status=404)
    if status := _limited(request, container, "console-signin"):
        return _page(request, container, "console/login.html", status=status, rate_limited=True, sso=True)
    try:
        start = container.oidc.start(redirect_uri=_callback_url(request, container))
    except SargsError as exc:
        return _page(request, container, "console/login.html", status=502, sso=True, sso_error=exc.message)
    response = RedirectResponse(start.url, status_code=303)
    # The state, nonce and PKCE verifier ride in a sealed, short-lived cookie (SameSite=Lax: the
    # provider's redirect back is a top-level GET from another site).
    set_cookie(
        response,
        request,
        container,
        OIDC_COOKIE,
        start.cookie,
        path="/console/login",
        samesite="lax",
        max_age=600,
    )
    return response


def _callback_url(request: Request, container: Container) -> str:
    base = (container.settings.public_url or str(request.base_url)).rstrip("/")
    return f"{base}/console/login/sso/callback"


@router.get("/login/sso/callback")
def sso_callback(
    request: Request,
    container: ContainerDep,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Exchange the code, check the ID token, then match or create the account by its e-mail."""
    if container.oidc is None:
        return _page(request, container, "console/login.html", status=404)
    if status := _limited(request, container, "console-signin"):
        return _page(request, container, "console/login.html", status=status, rate_limited=True, sso=True)
    try:
        if error:
            raise Unauthenticated(f"the identity provider answered {error!r}")
        claims = container.oidc.finish(
            cookie=request.cookies.get(OIDC_COOKIE, ""),
            code=code,
            state=state,
            redirect_uri=_callback_url(request, container),
        )
        with container.sessions.begin() as session:
            principal = sign_in_by_claims(
                session=session,
                claims=claims,
                issuer=container.oidc.issuer,
                role_claim=container.settings.oidc_role_claim,
                role_map=container.settings.oidc_role_map,
                create=container.settings.oidc_create_accounts,
                now=container.clock.now(),
            )
    except SargsError as exc:
        response: Response = _page(
            request, container, "console/login.html", status=401, sso=True, sso_error=exc.message
        )
        response.delete_cookie(OIDC_COOKIE, path="/console/login")
        return response
    response = _after_first_factor(request, container, principal)
    response.delete_cookie(OIDC_COOKIE, path="/console/login")
    return response


@router.post("/logout")
def logout(request: Request, container: ContainerDep, user: StaffDep, csrf: Csrf) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    with container.sessions.begin() as session:
        end_session(session=session, token=user.session_token, now=container.clock.now())
        audit(session, container, user.principal, request, "signout")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(STAFF_COOKIE, path="/console")
    return response
