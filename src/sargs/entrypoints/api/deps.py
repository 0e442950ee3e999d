"""Request-scoped dependencies: the container, the caller, role checks."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from sargs.core.errors import NotFound, PermissionDenied, ReasonRequired, Unauthenticated
from sargs.domains.access.permissions import REASON_MIN_LENGTH, reason_required
from sargs.domains.access.scope import visible_controllers
from sargs.domains.audit.service import AccessAction, Accessor, access_row, log_access, log_accesses
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import find_subject_id
from sargs.domains.tokens.service import Principal, authenticate_token
from sargs.entrypoints.container import Container
from sargs.entrypoints.offload import blocking

# A verified token is trusted this long without asking the database again, so a token revoked in
# any process (the CLI, another server) is refused everywhere within TOKEN_CACHE_SECONDS. One
# token query per token per second per process is the price (see benchmarks/token_cache.py).
TOKEN_CACHE_SECONDS = 1.0
TOKEN_CACHE_MAX = 10_000

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="sargs_<id>_<secret>",
    description="An API token from `sargs token create`, sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)


# The dependencies below are `async def` when they never block: FastAPI runs a plain `def`
# dependency in the threadpool, one thread hand-off each, on every request of every route.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


class TokenCache:
    """Remembers verified tokens briefly, so a hot check endpoint needs few token queries.

    An entry lives TOKEN_CACHE_SECONDS from the moment its database read began, so a revocation
    committed after that read is seen by the next read at most TOKEN_CACHE_SECONDS later.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        item = self._items.get(key)
        if item is None or item[0] <= time.monotonic():
            return None
        return item[1]

    def put(self, key: str, principal: Principal, *, read_at: float | None = None) -> None:
        """Cache `principal`, read from the database at monotonic time `read_at` (default: now)."""
        expires = (time.monotonic() if read_at is None else read_at) + self.ttl
        with self._lock:
            if len(self._items) >= TOKEN_CACHE_MAX:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
                if len(self._items) >= TOKEN_CACHE_MAX:  # all live: drop the oldest half
                    keep = sorted(self._items.items(), key=lambda kv: kv[1][0])[TOKEN_CACHE_MAX // 2 :]
                    self._items = dict(keep)
            self._items[key] = (expires, principal)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


async def get_principal(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The authenticated caller (Bearer token)."""
    secret = credentials.credentials.strip() if credentials is not None else ""
    if not secret:
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    cache: TokenCache = request.app.state.token_cache
    key = hashlib.sha256(secret.encode()).hexdigest()
    principal = cache.get(key)
    if principal is None:  # the database read, off the event loop
        read_at = time.monotonic()
        principal = await blocking(_authenticate, container, secret)
        cache.put(key, principal, read_at=read_at)
    request.state.principal = principal
    return principal


def _authenticate(container: Container, secret: str) -> Principal:
    with container.read_sessions.begin() as session:
        return authenticate_token(session=session, secret=secret, now=container.clock.now())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only the given roles."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(
                f"role {principal.role!r} may not do this (needs one of: {', '.join(roles)})"
            )
        return principal

    return check


class Permit:
    """A dependency admitting the roles that have `permission` in the role map
    (sargs.domains.access.permissions); the role-matrix test reads `.permission` off routes."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def __call__(self, principal: PrincipalDep) -> Principal:
        principal.require(self.permission)
        return principal


def stated_reason(principal: Principal, permission: str, reason: str | None) -> str | None:
    """The reason given for opening a person's data; required for roles in REASON_REQUIRED."""
    reason = (reason or "").strip() or None
    if reason_required(principal.role, permission) and (reason is None or len(reason) < REASON_MIN_LENGTH):
        raise ReasonRequired(
            f"role {principal.role!r} must state why it opens this person's data: "
            "send an X-Access-Reason header (e.g. a ticket or case number)",
            field="X-Access-Reason",
        )
    return reason


AccessReason = Annotated[
    str | None,
    Header(alias="X-Access-Reason", max_length=500, description="Why this person's data is opened."),
]


def route_name(request: Request) -> str:
    """'GET /api/v1/subjects/{identity}/consents': the route template, never the filled-in path
    (which may hold a phone number). Works whether or not the router keeps its prefix on the route."""
    route = request.scope.get("route")
    template: str | None = getattr(route, "path", None)
    if template is None:
        return request.method
    filled = template
    for name, value in request.path_params.items():
        filled = filled.replace("{" + name + "}", str(value))
    path = request.scope.get("path", "")
    prefix = path[: len(path) - len(filled)] if filled and path.endswith(filled) else ""
    return f"{request.method} {prefix}{template}"


def audit(
    session: Session,
    container: Container,
    principal: Principal,
    request: Request,
    action: AccessAction,
    *,
    subject_id: str | None = None,
    controllers: list[str] | tuple[str, ...] | None = None,
    reason: str | None = None,
    outcome: str = "ok",
) -> None:
    """Append to the access log in the request's transaction."""
    log_access(
        session=session,
        actor=Accessor.of(principal),
        route=route_name(request),
        action=action,
        now=container.clock.now(),
        subject_id=subject_id,
        controllers=controllers or (None,),
        reason=reason,
        outcome=outcome,
    )


def access_entry(
    container: Container, principal: Principal, request: Request, action: AccessAction, controller: str
) -> dict[str, object]:
    """The access-log row of this request, for a domain call that writes it with its change."""
    return access_row(
        actor=Accessor.of(principal),
        route=route_name(request),
        action=action,
        now=container.clock.now(),
        controller=controller,
    )


def audit_each(
    session: Session,
    container: Container,
    principal: Principal,
    request: Request,
    action: AccessAction,
    entries: list[tuple[str | None, str | None, str]],
) -> None:
    """One access-log entry per (subject id, controller, outcome), in the request's transaction."""
    log_accesses(
        session=session,
        actor=Accessor.of(principal),
        route=route_name(request),
        action=action,
        now=container.clock.now(),
        entries=entries,
    )


def open_person(
    session: Session,
    container: Container,
    principal: Principal,
    request: Request,
    identity: Identity,
    reason: str | None,
) -> tuple[str, list[str]] | None:
    """The subject holding `identity` and the controllers of theirs this caller may see, or None
    (unknown, or outside the caller's scope: both are logged as such and answered alike)."""
    subject_id = find_subject_id(session=session, identity=identity)
    seen: list[str] | None = None
    if subject_id is not None:
        try:
            seen = visible_controllers(session=session, principal=principal, subject_id=subject_id)
        except NotFound:
            seen = None
    if subject_id is None or seen is None:
        outcome = "not_found" if subject_id is None else "out_of_scope"
        audit(
            session,
            container,
            principal,
            request,
            "read",
            subject_id=subject_id,
            reason=reason,
            outcome=outcome,
        )
        return None
    return subject_id, seen


def require_controller(principal: Principal, controller: str) -> None:
    """Staff and tokens never reach a controller outside their scope (R-POL-2)."""
    if not principal.may_see(controller):
        raise PermissionDenied(f"this credential is not scoped to controller {controller!r}")


def pseudonymise_ip(container: Container, ip: str | None) -> str | None:
    """A keyed hash of the caller's IP: evidence that links requests without storing the address."""
    if not ip:
        return None
    key = container.settings.secret_key.encode()
    return "ip-hmac:" + hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:16]
