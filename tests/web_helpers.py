"""Driving the console and the portal through a TestClient: forms need their CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import pyotp
from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Authenticator:
    """A staff member's authenticator app: TOTP codes for the server's clock, each step used once
    (the server refuses a step used before), and the recovery codes handed out at enrolment."""

    secret: str
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int | None = None

    def code(self, now: datetime) -> str:
        """A fresh code: the server accepts the steps just before and after `now`, once each."""
        current = int(now.timestamp()) // 30
        steps = [
            s for s in (current - 1, current, current + 1) if self.last_step is None or s > self.last_step
        ]
        assert steps, "every code around this time was used: advance the test clock by 30 seconds"
        self.last_step = steps[0]
        return pyotp.TOTP(self.secret).generate_otp(steps[0])


# e-mail -> authenticator of every enrolled test staff member (filled by the staff_member fixture)
AUTHENTICATORS: dict[str, Authenticator] = {}


def server_now(client: TestClient) -> datetime:
    """The time on the app's clock (a FixedClock in most tests)."""
    now: datetime = client.app.state.container.clock.now()  # type: ignore[attr-defined]
    return now


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def console_login(client: TestClient, email: str, password: str, totp: str | None = None) -> None:
    """Sign in with the password and, when the server asks, the second factor: `totp`, else a
    fresh code from the account's test authenticator."""
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    if r.headers["location"] == "/console/login/code":
        page = client.get("/console/login/code")
        code = totp or AUTHENTICATORS[email].code(server_now(client))
        r = client.post(
            "/console/login/code", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
        )
        assert r.status_code == 303, r.text
    assert r.headers["location"] == "/console/", r.headers["location"]


def console_csrf(client: TestClient) -> str:
    return csrf_of(client.get("/console/").text)


def portal_sign_in(client: TestClient, identity: str, code_for: object) -> None:
    """Sign in to the portal; `code_for` is a callable returning the last code sent."""
    page = client.get("/portal/signin")
    r = client.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": identity})
    assert r.status_code == 200, r.text
    challenge = re.search(r'name="challenge" value="([^"]+)"', r.text)
    assert challenge
    code = code_for()  # type: ignore[operator]
    r = client.post(
        "/portal/verify",
        data={"csrf": csrf_of(r.text), "challenge": challenge.group(1), "code": code},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def portal_csrf(client: TestClient) -> str:
    return csrf_of(client.get("/portal/consents").text)
