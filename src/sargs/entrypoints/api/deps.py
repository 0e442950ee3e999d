"""Request-scoped dependencies: the container, the caller, role checks."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sargs.core.errors import PermissionDenied, Unauthenticated
from sargs.domains.tokens.service import Principal, authenticate_token
from sargs.entrypoints.container import Container

TOKEN_CACHE_SECONDS = 30.0


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


class TokenCache:
    """Remembers verified tokens briefly, so a hot check endpoint needs no token query.

    A revoked token stops working within TOKEN_CACHE_SECONDS.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: str, principal: Principal) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def get_principal(request: Request, container: ContainerDep) -> Principal:
    """The authenticated caller (Bearer token)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    cache: TokenCache = request.app.state.token_cache
    key = hashlib.sha256(secret.encode()).hexdigest()
    principal = cache.get(key)
    if principal is None:
        with container.read_sessions.begin() as session:
            principal = authenticate_token(session=session, secret=secret.strip(), now=container.clock.now())
        cache.put(key, principal)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise PermissionDenied(
                f"role {principal.role!r} may not do this (needs one of: {', '.join(roles)})"
            )
        return principal

    return check


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
