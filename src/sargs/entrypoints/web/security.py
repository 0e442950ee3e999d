"""Cookies, CSRF tokens and the signed-in staff member or subject, for the web pages.

Sessions live in the database (`web_sessions`); the cookie holds a random token. Cookies are
HttpOnly, SameSite (Strict for the console, Lax for the portal so links from an SMS or e-mail
work) and Secure unless running the demo or serving plain http on localhost.

CSRF: every POST form carries `csrf`, an HMAC (keyed with SARGS_SECRET_KEY) of the session
token, or before sign-in of a random `sargs_pre` cookie. Another site can neither read the
cookie nor compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Request, Response

from sargs.core.errors import PermissionDenied, SargsError
from sargs.domains.access.principal import Principal
from sargs.domains.access.sessions import resolve_session
from sargs.domains.staff.service import get_staff_principal
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.container import Container

STAFF_COOKIE = "sargs_staff"
PENDING_COOKIE = "sargs_staff_pending"  # past the password, before the second factor
PORTAL_COOKIE = "sargs_portal"
PRE_COOKIE = "sargs_pre"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class LoginRequired(SargsError):
    """No live session: the page sends the browser to sign in."""

    code = "login_required"

    def __init__(self, where: Literal["console", "portal"]) -> None:
        super().__init__("sign in first")
        self.where = where


class ReauthRequired(SargsError):
    """A sensitive console action needs a recent sign-in: the page asks for the password (and
    code) again and re-posts the action's own form fields with them."""

    code = "reauth_required"

    def __init__(self, fields: list[tuple[str, str]], asks_password: bool, asks_code: bool) -> None:
        super().__init__("confirm it is you to continue")
        self.fields = fields
        self.asks_password = asks_password
        self.asks_code = asks_code


class CsrfFailed(SargsError):
    """A form came without a valid CSRF token."""

    code = "csrf_failed"


def cookie_secure(request: Request, container: Container) -> bool:
    """Secure cookies unless the demo, or plain http to this very machine."""
    if not container.settings.cookies_secure:
        return False
    return not (request.url.scheme == "http" and (request.url.hostname or "") in LOCAL_HOSTS)


def set_cookie(
    response: Response,
    request: Request,
    container: Container,
    name: str,
    value: str,
    *,
    path: str,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite=samesite,
        secure=cookie_secure(request, container),
        max_age=max_age,
    )


def csrf_for(container: Container, seed: str) -> str:
    key = container.settings.secret_key.encode()
    return hmac.new(key, f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_seed(request: Request, cookie: str) -> str | None:
    """The value the CSRF token is bound to: the session cookie, else the pre-session cookie."""
    return request.cookies.get(cookie) or request.cookies.get(PRE_COOKIE)


def ensure_pre_cookie(request: Request, response: Response, container: Container) -> None:
    """Give an anonymous visitor a random seed for the sign-in form's CSRF token."""
    if PRE_COOKIE not in request.cookies:
        seed = getattr(request.state, "pre_seed", None)
        if seed is None:
            return
        set_cookie(response, request, container, PRE_COOKIE, seed, path="/", samesite="strict")


def new_pre_seed(request: Request) -> str:
    """The pre-session seed for this request (made now if the browser has none yet)."""
    existing = request.cookies.get(PRE_COOKIE)
    if existing:
        return existing
    seed: str | None = getattr(request.state, "pre_seed", None)
    if seed is None:
        seed = secrets.token_urlsafe(24)
        request.state.pre_seed = seed
    return seed


def limit_signins(request: Request, container: Container, name: str) -> None:
    """Sign-in attempts per client address (portal code requests, console passwords), on top of the
    per-identity and per-account limits kept in the database. Counted across processes when Redis
    is set; it fails closed: while Redis is unreachable, RateLimitUnavailable (a RateLimited)."""
    key = request.client.host if request.client else "unknown"
    limit = container.settings.signin_rate_limit_per_minute
    container.rate_limits.limiter(name, limit=limit, per=60.0, fail_open=False).hit(key)


def check_csrf(request: Request, container: Container, cookie: str, token: str | None) -> None:
    seed = csrf_seed(request, cookie)
    # Bytes, not str: compare_digest refuses (TypeError) a str holding non-ASCII characters.
    if not seed or not token or not hmac.compare_digest(csrf_for(container, seed).encode(), token.encode()):
        raise CsrfFailed("the form expired or came from elsewhere; reload the page and try again")


@dataclass(frozen=True)
class StaffUser:
    principal: Principal
    session_token: str
    session_id: str = ""
    authenticated_at: datetime | None = None


@dataclass(frozen=True)
class SubjectUser:
    subject_id: str
    session_token: str


def current_staff(request: Request, container: ContainerDep) -> StaffUser:
    """The signed-in staff member (their account must still be enabled)."""
    token = request.cookies.get(STAFF_COOKIE, "")
    with container.sessions.begin() as session:
        active = resolve_session(session=session, token=token, kind="staff", now=container.clock.now())
        principal = get_staff_principal(session=session, staff_id=active.owner_id) if active else None
    if principal is None or active is None:
        raise LoginRequired("console")
    request.state.principal = principal
    return StaffUser(principal, token, active.id, active.authenticated_at)


@dataclass(frozen=True)
class PendingStaff:
    """Past the password, before the second factor: may only enter a code or enrol one."""

    staff_id: str
    session_token: str


def current_pending(request: Request, container: ContainerDep) -> PendingStaff:
    token = request.cookies.get(PENDING_COOKIE, "")
    with container.sessions.begin() as session:
        active = resolve_session(
            session=session, token=token, kind="staff-pending", now=container.clock.now()
        )
    if active is None:
        raise LoginRequired("console")
    return PendingStaff(active.owner_id, token)


PendingDep = Annotated[PendingStaff, Depends(current_pending)]


StaffDep = Annotated[StaffUser, Depends(current_staff)]


class StaffPermit:
    """Console pages' role check, from the same role map as the API (`.permission` is read by
    the role-matrix test)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self, user: StaffDep) -> StaffUser:
        if not user.principal.may(self.permission):
            raise PermissionDenied(f"role {user.principal.role!r} may not open this page ({self.permission})")
        return user


def current_subject(request: Request, container: ContainerDep) -> SubjectUser:
    """The data subject signed in to the portal."""
    token = request.cookies.get(PORTAL_COOKIE, "")
    with container.sessions.begin() as session:
        active = resolve_session(session=session, token=token, kind="subject", now=container.clock.now())
    if active is None:
        raise LoginRequired("portal")
    return SubjectUser(active.owner_id, token)


SubjectDep = Annotated[SubjectUser, Depends(current_subject)]
