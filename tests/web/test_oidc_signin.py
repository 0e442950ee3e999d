"""Console sign-in through OpenID Connect against a local fake provider (tests/oidc_provider.py):
code flow with PKCE, state and nonce, ID tokens checked against the provider's JWKS, roles from a
claim (never admin), accounts matched by e-mail or created, and the second factor still asked of
a DPO."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.bootstrap import build, create_app
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError
from sargs.domains.policy.schema import Policy
from sargs.domains.staff.model import StaffMember
from sargs.domains.staff.service import add_staff
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.security import PENDING_COOKIE, STAFF_COOKIE
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.web_helpers import csrf_of

ROLE_MAP = {"sargs-kase": "operator:lmt", "privacy-office": "dpo", "it-admins": "auditor"}


@pytest.fixture
def idp(clock: FixedClock) -> Iterator[FakeProvider]:
    with FakeProvider(now=lambda: clock.now().timestamp()) as provider:
        yield provider


def settings_for(db_url: str, idp: FakeProvider, **extra: Any) -> Settings:
    return Settings(
        database_url=db_url,
        demo=True,
        oidc_issuer=idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_claim="groups",
        oidc_role_map=ROLE_MAP,
        **extra,
    )


@pytest.fixture
def sso(
    db_url: str, idp: FakeProvider, example_policies: list[Policy], clock: FixedClock
) -> Iterator[Container]:
    c = build(settings_for(db_url, idp), clock=clock, policies=example_policies)
    yield c
    c.close()


def sign_in(browser: TestClient) -> httpx.Response:
    """Press the SSO button, let the provider redirect back, and return Sargs's answer."""
    page = browser.get("/console/login?lang=en")
    assert "Sign in with your organisation" in page.text
    start = browser.post("/console/login/sso", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert start.status_code == 303, start.text
    url = start.headers["location"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    back = httpx.get(url, follow_redirects=False)  # the browser at the provider (already signed in there)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    return browser.get(f"{callback.path}?{callback.query}", follow_redirects=False)


def in_console(browser: TestClient) -> bool:
    return browser.get("/console/", follow_redirects=False).status_code == 200


def staff(container: Container, email: str) -> StaffMember | None:
    with container.read_sessions.begin() as session:
        row = session.scalar(select(StaffMember).where(StaffMember.email == email))
        if row is not None:
            session.expunge(row)
        return row


def test_a_new_operator_is_created_with_the_mapped_role_and_companies(
    sso: Container, idp: FakeProvider
) -> None:
    idp.user = {
        "sub": "u-1",
        "email": "Ilze@LMT.example",
        "name": "Ilze K",
        "groups": ["staff", "sargs-kase"],
    }
    with TestClient(create_app(sso)) as browser:
        r = sign_in(browser)
        assert r.status_code == 303 and r.headers["location"] == "/console/", r.text
        assert in_console(browser)
    row = staff(sso, "ilze@lmt.example")
    assert row is not None and row.role == "operator" and row.controllers == ["lmt"]
    assert row.oidc_subject == f"{idp.issuer} u-1" and row.password_hash == "!" and row.created_by == "oidc"
    # the account has no password: the password form opens nothing
    with TestClient(create_app(sso)) as browser:
        page = browser.get("/console/login")
        r = browser.post(
            "/console/login", data={"csrf": csrf_of(page.text), "email": row.email, "password": "!"}
        )
        assert r.status_code == 401


def test_a_dpo_signing_in_through_the_provider_still_needs_the_second_factor(
    sso: Container, idp: FakeProvider
) -> None:
    idp.user = {"sub": "u-2", "email": "dpo@lmt.example", "groups": ["privacy-office"], "amr": ["pwd"]}
    with TestClient(create_app(sso)) as browser:
        r = sign_in(browser)
        assert r.status_code == 303 and r.headers["location"] == "/console/login/enrol"
        assert STAFF_COOKIE not in browser.cookies and PENDING_COOKIE in browser.cookies
        assert not in_console(browser)


def test_an_existing_account_is_matched_by_e_mail_and_keeps_its_role(
    sso: Container, idp: FakeProvider
) -> None:
    with sso.sessions.begin() as session:
        add_staff(
            session=session,
            email="auditore@lmt.example",
            name="A",
            role="auditor",
            password="auditor-password",
            now=sso.clock.now(),
        )
    idp.user = {"sub": "u-3", "email": "auditore@lmt.example", "groups": ["sargs-kase"]}  # maps to operator
    with TestClient(create_app(sso)) as browser:
        assert sign_in(browser).headers["location"] == "/console/"
    row = staff(sso, "auditore@lmt.example")
    assert row is not None and row.role == "auditor" and row.oidc_subject == f"{idp.issuer} u-3"
    # linked: another provider account with the same e-mail does not get in
    idp.user = {"sub": "u-other", "email": "auditore@lmt.example", "groups": ["sargs-kase"]}
    with TestClient(create_app(sso)) as browser:
        assert sign_in(browser).status_code == 401 and not in_console(browser)


def test_admin_is_never_given_by_the_provider(
    db_url: str, idp: FakeProvider, example_policies: list[Policy], clock: FixedClock, sso: Container
) -> None:
    bad = settings_for(db_url, idp).model_copy(update={"oidc_role_map": {"it-admins": "admin"}})
    with pytest.raises(ConfigurationError, match="admin"):
        build(bad, clock=clock, policies=example_policies)
    # an existing admin account, matched by e-mail, is not signed in through the provider either
    with sso.sessions.begin() as session:
        add_staff(
            session=session,
            email="root@lmt.example",
            name="R",
            role="admin",
            password="admin-password",
            now=clock.now(),
        )
    idp.user = {"sub": "u-4", "email": "root@lmt.example", "groups": ["it-admins"]}
    with TestClient(create_app(sso)) as browser:
        r = sign_in(browser)
        assert r.status_code == 401 and "administrators" in r.text and not in_console(browser)


def test_no_mapped_role_or_no_verified_e_mail_opens_nothing(sso: Container, idp: FakeProvider) -> None:
    for user in (
        {"sub": "u-5", "email": "x@lmt.example", "groups": ["staff"]},
        {"sub": "u-6", "email": "y@lmt.example", "groups": "sargs-kase", "email_verified": False},
        {"sub": "u-7", "groups": ["sargs-kase"]},
    ):
        idp.user = user
        with TestClient(create_app(sso)) as browser:
            assert sign_in(browser).status_code == 401 and not in_console(browser)
    assert staff(sso, "x@lmt.example") is None and staff(sso, "y@lmt.example") is None


@pytest.mark.parametrize("tamper", ["aud", "iss", "nonce", "expired", "signature", "alg-none"])
def test_an_id_token_that_does_not_check_out_is_refused(
    sso: Container, idp: FakeProvider, tamper: str
) -> None:
    idp.user = {"sub": "u-8", "email": "kase@lmt.example", "groups": ["sargs-kase"]}
    idp.tamper = tamper
    with TestClient(create_app(sso)) as browser:
        r = sign_in(browser)
        assert r.status_code == 401, tamper
        assert not in_console(browser)
    assert staff(sso, "kase@lmt.example") is None


def test_a_forged_state_or_a_replayed_code_is_refused(sso: Container, idp: FakeProvider) -> None:
    idp.user = {"sub": "u-9", "email": "kase2@lmt.example", "groups": ["sargs-kase"]}
    app = create_app(sso)
    with TestClient(app) as browser:
        page = browser.get("/console/login")
        start = browser.post("/console/login/sso", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        back = urlsplit(httpx.get(start.headers["location"], follow_redirects=False).headers["location"])
        code = parse_qs(back.query)["code"][0]
        r = browser.get(
            "/console/login/sso/callback", params={"code": code, "state": "forged"}, follow_redirects=False
        )
        assert r.status_code == 401 and not in_console(browser)
    with TestClient(app) as attacker:  # a callback URL carried to another browser (no flow cookie)
        r = attacker.get(f"{back.path}?{back.query}", follow_redirects=False)
        assert r.status_code == 401 and not in_console(attacker)
    assert staff(sso, "kase2@lmt.example") is None


def test_the_console_offers_no_sso_without_a_provider(client: TestClient) -> None:
    assert "/console/login/sso" not in client.get("/console/login").text
    page = client.get("/console/login")
    assert client.post("/console/login/sso", data={"csrf": csrf_of(page.text)}).status_code == 404
