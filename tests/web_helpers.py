"""Driving the console and the portal through a TestClient: forms need their CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def console_login(client: TestClient, email: str, password: str) -> None:
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


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
