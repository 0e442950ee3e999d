"""The staff second factor through the console over HTTP: required for DPO and admin, enrolment
after the password, codes once per time step, recovery codes once, rate limits and lockout, and
re-authentication before an erasure."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.bootstrap import build, create_app
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.jobs.model import WorkerTask
from sargs.domains.policy.schema import Policy
from sargs.domains.staff.model import StaffMember, StaffRecoveryCode
from sargs.domains.staff.service import MAX_FAILED_LOGINS
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.security import PENDING_COOKIE, STAFF_COOKIE
from tests.web.test_dsr_console import file_in_console
from tests.web_helpers import AUTHENTICATORS, console_csrf, console_login, csrf_of

Staff = Callable[..., tuple[str, str]]
C = "lytagra-lv"


def password_step(browser: TestClient, email: str, password: str) -> str:
    page = browser.get("/console/login")
    r = browser.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def send_code(browser: TestClient, code: str, step: str = "code") -> int:
    page = browser.get(f"/console/login/{step}")
    assert page.status_code == 200, page.text
    r = browser.post(
        f"/console/login/{step}", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
    )
    return r.status_code


def in_console(browser: TestClient) -> bool:
    return browser.get("/console/", follow_redirects=False).status_code == 200


def test_a_dpo_cannot_sign_in_without_the_second_factor(container: Container, staff_member: Staff) -> None:
    """Done when: the password alone opens nothing; a wrong code opens nothing; the right one does."""
    email, password = staff_member("dpo")
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        assert STAFF_COOKIE not in browser.cookies and PENDING_COOKIE in browser.cookies
        assert not in_console(browser)
        for path in ("/console/dsr", "/console/staff", "/console/audit", "/console/dashboard"):
            r = browser.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/console/login", path
        # the pending cookie is no console session even when sent as one
        browser.cookies.set(STAFF_COOKIE, browser.cookies[PENDING_COOKIE], path="/console")
        assert not in_console(browser)
        browser.cookies.delete(STAFF_COOKIE, path="/console")
        right = AUTHENTICATORS[email].code(container.clock.now())
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        assert send_code(browser, wrong) == 401
        assert not in_console(browser)
        assert send_code(browser, right) == 303
        assert in_console(browser) and PENDING_COOKIE not in browser.cookies


def test_a_dpo_without_an_authenticator_is_sent_to_enrol_and_can_do_nothing_else(
    container: Container, staff_member: Staff
) -> None:
    email, password = staff_member("dpo", mfa=False)
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/enrol"
        assert not in_console(browser)
        assert browser.get("/console/login/code").status_code == 200  # the page; no code works
        page = browser.get("/console/login/enrol")
        secret = re.search(r"<code data-secret>([A-Z2-7]+)</code>", page.text)
        assert secret and '<figure role="img"' in page.text and "<svg" in page.text
        assert browser.get("/console/login/enrol").text.count(secret.group(1)) == 1  # same key on reload
        totp = pyotp.TOTP(secret.group(1))
        now = container.clock.now()
        assert send_code(browser, "000000" if totp.at(now) != "000000" else "111111", "enrol") == 401
        assert not in_console(browser)
        page = browser.get("/console/login/enrol")
        r = browser.post(
            "/console/login/enrol",
            data={"csrf": csrf_of(page.text), "code": totp.at(now)},
            follow_redirects=False,
        )
        assert r.status_code == 200, r.text
        codes = re.findall(r"<code data-recovery>([a-z2-7]{4}-[a-z2-7]{4})</code>", r.text)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert in_console(browser)
    with container.read_sessions.begin() as session:
        row = session.scalar(select(StaffMember).where(StaffMember.email == email))
        assert row is not None and row.totp_enrolled_at is not None
        assert row.totp_secret and secret.group(1) not in row.totp_secret  # sealed at rest
        hashes = session.scalars(
            select(StaffRecoveryCode.code_hash).where(StaffRecoveryCode.staff_id == row.id)
        )
        assert all(h.startswith("$argon2id$") and h not in codes for h in hashes)
    # next sign-in asks for a code, and a recovery code works exactly once
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        assert send_code(browser, codes[0]) == 303
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        assert send_code(browser, codes[0]) == 401
        assert send_code(browser, codes[1].upper().replace("-", " ")) == 303


def test_an_operator_needs_no_second_factor_unless_the_setting_lists_its_role(
    db_url: str, example_policies: list[Policy], clock: FixedClock
) -> None:
    for roles, expected in (("admin,dpo", "/console/"), ("operator", "/console/login/enrol")):
        c = build(
            Settings(database_url=db_url, demo=True, staff_mfa_roles=roles),
            clock=clock,
            policies=example_policies,
        )
        try:
            from sargs.domains.staff.service import add_staff

            email = f"op-{len(roles)}@staff.example"
            with c.sessions.begin() as session:
                add_staff(
                    session=session,
                    email=email,
                    name="Op",
                    role="operator",
                    password="operator-password",
                    now=clock.now(),
                )
            with TestClient(create_app(c)) as browser:
                assert password_step(browser, email, "operator-password") == expected
            assert c.settings.staff_mfa_roles == roles.split(",")
        finally:
            c.close()


def test_a_code_is_accepted_once_per_time_step(container: Container, staff_member: Staff) -> None:
    email, password = staff_member("admin")
    secret = AUTHENTICATORS[email].secret
    code = pyotp.TOTP(secret).at(container.clock.now())
    app = create_app(container)
    with TestClient(app) as first, TestClient(app) as second:
        assert password_step(first, email, password) == "/console/login/code"
        assert password_step(second, email, password) == "/console/login/code"
        assert send_code(first, code) == 303
        assert send_code(second, code) == 401  # the same code, seen again: a replay
        # an older step is refused too once a later one was used
        later = pyotp.TOTP(secret).at(container.clock.now() + timedelta(seconds=30))
        assert send_code(second, later) == 303
        with TestClient(app) as third:
            assert password_step(third, email, password) == "/console/login/code"
            assert send_code(third, code) == 401


def test_two_sign_ins_racing_with_one_code_let_one_in(container: Container, staff_member: Staff) -> None:
    email, password = staff_member("dpo")
    code = pyotp.TOTP(AUTHENTICATORS[email].secret).at(container.clock.now())
    app = create_app(container)
    browsers = [TestClient(app) for _ in range(4)]
    try:
        pages = []
        for b in browsers:
            assert password_step(b, email, password) == "/console/login/code"
            pages.append(csrf_of(b.get("/console/login/code").text))

        def go(i: int) -> int:
            data = {"csrf": pages[i], "code": code}
            return browsers[i].post("/console/login/code", data=data, follow_redirects=False).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(go, range(4)))
        assert statuses == [303, 401, 401, 401]
    finally:
        for b in browsers:
            b.close()


def test_code_guesses_per_address_are_rate_limited(container: Container, staff_member: Staff) -> None:
    email, password = staff_member("dpo")
    limit = container.settings.signin_rate_limit_per_minute
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        statuses = [send_code(browser, "12345" + str(i % 10)) for i in range(limit + 2)]
        assert statuses[:limit] == [401] * limit and statuses[limit:] == [429, 429]


def test_guessing_codes_locks_the_account(
    container: Container, clock: FixedClock, staff_member: Staff
) -> None:
    email, password = staff_member("dpo")
    right = pyotp.TOTP(AUTHENTICATORS[email].secret).at(clock.now())
    wrong = f"{(int(right) + 7) % 1_000_000:06d}"
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        for _ in range(MAX_FAILED_LOGINS):
            assert send_code(browser, wrong) == 401
        assert send_code(browser, right) == 401  # locked: even the right code
        assert not in_console(browser)
    with TestClient(create_app(container)) as browser:
        page = browser.get("/console/login")
        r = browser.post(
            "/console/login", data={"csrf": csrf_of(page.text), "email": email, "password": password}
        )
        assert r.status_code == 401  # the lockout holds for the password too
    clock.advance(minutes=16)
    with TestClient(create_app(container)) as browser:
        assert password_step(browser, email, password) == "/console/login/code"
        assert send_code(browser, AUTHENTICATORS[email].code(clock.now())) == 303


def test_reset_sends_the_dpo_back_to_enrolment_and_ends_sessions(
    container: Container, staff_member: Staff
) -> None:
    from sargs.domains.staff.signin import reset_by_email

    email, password = staff_member("dpo")
    with TestClient(create_app(container)) as browser:
        console_login(browser, email, password)
        assert in_console(browser)
        with container.sessions.begin() as session:
            reset_by_email(session=session, email=email, now=container.clock.now())
        assert not in_console(browser)
        assert password_step(browser, email, password) == "/console/login/enrol"


# --- re-authentication before erasure ------------------------------------------------------------


def verified_erasure(browser: TestClient) -> str:
    rid = file_in_console(browser, kind="erasure", ground="no_longer_needed")
    r = browser.post(
        f"/console/dsr/{rid}/verify",
        data={"csrf": console_csrf(browser), "method": "id_document", "document_type": "pase"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return rid


def test_erasure_needs_a_sign_in_from_the_last_ten_minutes(
    container: Container, clock: FixedClock, staff_member: Staff
) -> None:
    email, password = staff_member("dpo", controllers=[C])
    with TestClient(create_app(container)) as browser:
        console_login(browser, email, password)
        rid = verified_erasure(browser)
        clock.advance(minutes=11)  # still signed in (the idle timer is 30 minutes), but not recently
        csrf = console_csrf(browser)
        r = browser.post(f"/console/dsr/{rid}/fulfil", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 401 and 'name="reauth_password"' in r.text and 'name="reauth_code"' in r.text
        assert f'action="/console/dsr/{rid}/fulfil"' in r.text
        with container.read_sessions.begin() as session:
            assert session.get(DsrRequest, rid).status == "verified"  # type: ignore[union-attr]
            assert not session.scalars(select(WorkerTask)).all()
        form = {"csrf": csrf_of(r.text), "reauth_password": password}
        # the password without the code, and a wrong password with the code: refused, nothing queued
        r = browser.post(
            f"/console/dsr/{rid}/fulfil", data={**form, "reauth_code": ""}, follow_redirects=False
        )
        assert r.status_code == 401 and 'role="alert"' in r.text
        code = AUTHENTICATORS[email].code(clock.now())
        bad = {**form, "reauth_password": "not-the-password", "reauth_code": code}
        assert browser.post(f"/console/dsr/{rid}/fulfil", data=bad, follow_redirects=False).status_code == 401
        with container.read_sessions.begin() as session:
            assert not session.scalars(select(WorkerTask)).all()
        # password and a fresh code: the erasure goes ahead in that same request
        good = {**form, "reauth_code": AUTHENTICATORS[email].code(clock.now())}
        r = browser.post(f"/console/dsr/{rid}/fulfil", data=good, follow_redirects=False)
        assert r.status_code == 303 and "queued=1" in r.headers["location"], r.text
        with container.read_sessions.begin() as session:
            assert len(session.scalars(select(WorkerTask)).all()) == 1


def test_refusing_an_erasure_or_fulfilling_access_needs_no_re_authentication(
    container: Container, clock: FixedClock, staff_member: Staff
) -> None:
    email, password = staff_member("dpo", controllers=[C])
    with TestClient(create_app(container)) as browser:
        console_login(browser, email, password)
        rid = verified_erasure(browser)
        access = file_in_console(browser, kind="access")
        browser.post(
            f"/console/dsr/{access}/verify",
            data={"csrf": console_csrf(browser), "method": "id_document", "document_type": "pase"},
        )
        clock.advance(minutes=11)
        csrf = console_csrf(browser)
        r = browser.post(f"/console/dsr/{access}/fulfil", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303, r.text
        data = {"csrf": csrf, "outcome": "refused", "text": "Dati glabājami likumā noteikto laiku."}
        r = browser.post(f"/console/dsr/{rid}/fulfil", data=data, follow_redirects=False)
        assert r.status_code == 303, r.text


@pytest.mark.parametrize("minutes", [9, 11])
def test_the_window_is_ten_minutes(
    container: Container, clock: FixedClock, staff_member: Staff, minutes: int
) -> None:
    email, password = staff_member("dpo", controllers=[C])
    with TestClient(create_app(container)) as browser:
        console_login(browser, email, password)
        rid = verified_erasure(browser)
        clock.advance(minutes=minutes)
        r = browser.post(
            f"/console/dsr/{rid}/fulfil", data={"csrf": console_csrf(browser)}, follow_redirects=False
        )
        assert r.status_code == (303 if minutes < 10 else 401)
