"""Console and portal details: cookies, CSRF, language, sign-in answers, contact correction, requests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web_helpers import console_login, csrf_of, portal_csrf, portal_sign_in

PHONE = "+37129000601"


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def subject_id(container: Container) -> str:
    with container.sessions.begin() as s:
        return create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE)],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )


def test_session_cookies_are_httponly_samesite_and_secure_outside_the_demo(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("operator")
    container.settings.demo = False
    with TestClient(create_app(container), base_url="https://sargs.example") as c:
        console_login(c, email, password)
        page = c.get("/console/login")
        r = c.post(
            "/console/login",
            data={"csrf": csrf_of(page.text), "email": email, "password": password},
            follow_redirects=False,
        )
        cookie = r.headers["set-cookie"]
        assert (
            "HttpOnly" in cookie
            and "Secure" in cookie
            and "SameSite=strict" in cookie
            and "Path=/console" in cookie
        )


def test_posts_without_a_valid_csrf_token_are_refused(
    browser: TestClient, staff_member: Callable[..., tuple[str, str]], subject_id: str
) -> None:
    email, password = staff_member("operator")
    r = browser.post("/console/login", data={"csrf": "forged", "email": email, "password": password})
    assert r.status_code == 403
    console_login(browser, email, password)
    r = browser.post(
        f"/console/subjects/{subject_id}/consents",
        data={"csrf": "forged", "choice": "lmt/offers", "action": "grant"},
    )
    assert r.status_code == 403 and "csrf_failed" in r.text


def test_pages_speak_latvian_by_default_and_english_on_request(browser: TestClient) -> None:
    assert 'lang="lv"' in browser.get("/portal/signin").text
    page = browser.get("/portal/signin?lang=en")
    assert 'lang="en"' in page.text and "Send me a code" in page.text
    assert 'lang="en"' in browser.get("/console/login").text  # remembered in a cookie


def test_pages_send_a_strict_content_security_policy(browser: TestClient) -> None:
    r = browser.get("/console/login")
    assert (
        "script-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    )


def test_sign_in_answers_the_same_for_known_and_unknown_people(
    browser: TestClient, codes: FakeCodeSender, subject_id: str
) -> None:
    def answer(identity: str) -> str:
        page = browser.get("/portal/signin?lang=en")
        r = browser.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": identity})
        assert r.status_code == 200
        return re.sub(r'value="[^"]+"', 'value=""', r.text)

    assert answer(PHONE) == answer("+37129999998")
    assert len(codes.sent) == 1


def test_a_wrong_code_does_not_sign_in(browser: TestClient, codes: FakeCodeSender, subject_id: str) -> None:
    page = browser.get("/portal/signin")
    r = browser.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": PHONE})
    challenge = re.search(r'name="challenge" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    wrong = "000000" if codes.last_code() != "000000" else "111111"
    r = browser.post("/portal/verify", data={"csrf": csrf_of(r.text), "challenge": challenge, "code": wrong})
    assert r.status_code == 401
    assert browser.get("/portal/consents", follow_redirects=False).headers["location"] == "/portal/signin"


def test_portal_consent_toggle_records_channel_portal_with_the_subject_as_actor(
    browser: TestClient,
    codes: FakeCodeSender,
    subject_id: str,
    client: TestClient,
    auth: Callable[..., dict[str, str]],
) -> None:
    portal_sign_in(browser, PHONE, codes.last_code)
    r = browser.post(
        "/portal/consents",
        data={
            "csrf": portal_csrf(browser),
            "controller": "lmt",
            "shown": ["offers", "location"],
            "granted": ["offers"],
        },
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and r.text.startswith("<form") and 'id="c-lmt-offers"' in r.text
    history = client.get(
        f"/api/v1/subjects/msisdn:{PHONE}/consents", headers={**auth("admin"), "X-Access-Reason": "test"}
    ).json()["history"]
    assert [(e["purpose"], e["action"], e["channel"], e["actor_type"], e["actor_id"]) for e in history] == [
        ("offers", "grant", "portal", "subject", subject_id)
    ]


def test_a_person_sees_only_their_own_receipts(
    browser: TestClient,
    codes: FakeCodeSender,
    subject_id: str,
    client: TestClient,
    auth: Callable[..., dict[str, str]],
) -> None:
    other = client.post(
        "/api/v1/consents",
        json={"controller": "lmt", "identity": "msisdn:+37129000699", "purpose": "offers", "action": "grant"},
        headers=auth("operator"),
    ).json()["event"]["id"]
    portal_sign_in(browser, PHONE, codes.last_code)
    assert browser.get(f"/portal/receipts/{other}").status_code == 404


def test_contact_details_are_corrected_only_after_the_new_address_is_confirmed(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    from sargs.domains.subjects.service import view_subject

    portal_sign_in(browser, PHONE, codes.last_code)
    page = browser.get("/portal/contact")
    r = browser.post(
        "/portal/contact", data={"csrf": csrf_of(page.text), "value": "+37129000602", "replace": "true"}
    )
    challenge = re.search(r'name="challenge" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    with container.read_sessions.begin() as s:
        assert [i.value for i in view_subject(session=s, subject_id=subject_id).identities] == [PHONE]
    r = browser.post(
        "/portal/contact/verify",
        data={"csrf": csrf_of(r.text), "challenge": challenge, "code": codes.last_code("+37129000602")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with container.read_sessions.begin() as s:
        assert [i.value for i in view_subject(session=s, subject_id=subject_id).identities] == [
            "+37129000602"
        ]


def test_a_request_started_in_the_portal_is_recorded(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    from sargs.domains.dsr.service import list_requests

    portal_sign_in(browser, PHONE, codes.last_code)
    page = browser.get("/portal/requests")
    r = browser.post(
        "/portal/requests",
        data={"csrf": csrf_of(page.text), "controller": "lmt", "kind": "access", "details": "all of it"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with container.read_sessions.begin() as s:
        [req] = list_requests(session=s, now=container.clock.now(), subject_id=subject_id)
    assert (req.kind, req.controller, req.status, req.channel) == ("access", "lmt", "received", "portal")


def test_a_disabled_operator_is_signed_out_at_once(
    browser: TestClient, container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    from sargs.domains.staff.service import disable_staff

    email, password = staff_member("operator")
    console_login(browser, email, password)
    assert browser.get("/console/", follow_redirects=False).status_code == 200
    with container.sessions.begin() as s:
        disable_staff(session=s, email=email, now=container.clock.now())
    assert browser.get("/console/", follow_redirects=False).status_code == 303


def test_a_dpo_must_state_a_reason_in_the_console(
    browser: TestClient, staff_member: Callable[..., tuple[str, str]], subject_id: str
) -> None:
    console_login(browser, *staff_member("dpo"))
    r = browser.get(f"/console/subjects/{subject_id}")
    assert r.status_code == 403 and 'name="reason"' in r.text
    assert browser.get(f"/console/subjects/{subject_id}", params={"reason": "DSR 2026-11"}).status_code == 200


def test_the_console_shows_a_persons_sms_messages_and_replies_with_company_names(
    browser: TestClient,
    container: Container,
    subject_id: str,
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    from sargs.domains.sms.service import InboundMessage, handle_inbound

    with container.sessions.begin() as s:
        handle_inbound(
            session=s,
            directory=container.sms,
            msg=InboundMessage(provider="json", message_id="c-1", sender=PHONE, to="29307777", text="vieta"),
            now=container.clock.now(),
        )
    console_login(browser, *staff_member("operator", ["lmt"]))
    page = browser.get(f"/console/subjects/{subject_id}", params={"lang": "en"})
    assert page.status_code == 200, page.text
    assert "SMS keyword messages" in page.text
    row = re.search(r'<tr data-sms="[0-9a-f]+">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "<code>vieta</code>" in row.group(1)
    assert "given (VIETA)" in row.group(1)
    assert "LMT: thank you, consent VIETA received" not in row.group(1)  # replies go in lv
    assert "LMT: paldies, piekrisana VIETA sanemta" in row.group(1) and "(queued)" in row.group(1)
    assert "<td>LMT</td>" in page.text  # company short names, not ids
