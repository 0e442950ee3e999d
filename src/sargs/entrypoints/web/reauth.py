"""Re-authentication before sensitive console actions (issue 18).

A route that does something hard to undo takes `Reauth` and calls `.require()` before acting. If
the session's last sign-in or re-authentication is older than SARGS_STAFF_REAUTH_MINUTES, the
browser gets a form asking for the password (and the TOTP code, if enrolled) that posts the
action's own fields back to the same URL with `reauth_password` / `reauth_code`; then the check
passes, the session is marked re-authenticated and the action goes ahead in that same request.

Which actions: fulfilling an erasure in the console (`/console/dsr/{id}/fulfil`). Creating API
tokens is done only with `sargs token create` on the server, and audiences are exported only
through the API with a bearer token: a token is a machine credential with no person at a
keyboard to re-authenticate, so the requirement applies to console sessions alone. A console
page that creates tokens or exports audiences must take `Reauth` too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from sargs.core.errors import Unauthenticated
from sargs.domains.access.sessions import mark_authenticated
from sargs.domains.staff.mfa import mfa_key
from sargs.domains.staff.signin import needs_code, reauthenticate
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.security import (
    STAFF_COOKIE,
    ReauthRequired,
    StaffDep,
    StaffUser,
    check_csrf,
    limit_signins,
)


def staff_mfa_key(container: Container) -> bytes:
    settings = container.settings
    return mfa_key(settings.staff_mfa_key or settings.secret_key)


@dataclass
class RecentSignin:
    request: Request
    container: Container
    user: StaffUser
    fields: list[tuple[str, str]]
    password: str | None
    code: str | None

    def require(self) -> StaffUser:
        """Go on if the sign-in is recent or the form carried a good re-authentication; else ask."""
        now = self.container.clock.now()
        window = timedelta(minutes=self.container.settings.staff_reauth_minutes)
        if self.user.authenticated_at is not None and now - self.user.authenticated_at <= window:
            return self.user
        staff_id = self.user.principal.id
        with self.container.read_sessions.begin() as session:
            asks_password, asks_code = needs_code(session=session, staff_id=staff_id)
        if self.password is None and self.code is None:
            raise ReauthRequired(self.fields, asks_password, asks_code)
        check_csrf(self.request, self.container, STAFF_COOKIE, dict(self.fields).get("csrf"))
        limit_signins(self.request, self.container, "console-reauth")
        failed = False
        with self.container.sessions.begin() as session:
            try:
                reauthenticate(
                    session=session,
                    staff_id=staff_id,
                    password=self.password or "",
                    code=self.code or "",
                    key=staff_mfa_key(self.container),
                    now=now,
                )
                mark_authenticated(session=session, session_id=self.user.session_id, now=now)
            except Unauthenticated:
                failed = True  # committed: the failure counts towards the lockout
        if failed:
            exc = ReauthRequired(self.fields, asks_password, asks_code)
            exc.details["failed"] = True
            raise exc
        self.user = replace(self.user, authenticated_at=now)
        return self.user


async def recent_signin(request: Request, container: ContainerDep, user: StaffDep) -> RecentSignin:
    form = await request.form()
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str) and not k.startswith("reauth_")]
    password, code = form.get("reauth_password"), form.get("reauth_code")
    return RecentSignin(
        request,
        container,
        user,
        fields,
        password if isinstance(password, str) else None,
        code if isinstance(code, str) else None,
    )


Reauth = Annotated[RecentSignin, Depends(recent_signin)]
