"""The portal and the console show whose key signs a receipt and give it signed: the downloaded
JWT verifies with jwcrypto from /.well-known/jwks.json; a person gets only their own."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.api.test_signed_receipts import verify
from tests.conftest import FakeCodeSender
from tests.web_helpers import console_login, portal_sign_in

PHONE = "+37129000611"


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def grant(client: TestClient, auth: Callable[..., dict[str, str]], phone: str) -> str:
    body = {"controller": "lmt", "identity": f"msisdn:{phone}", "purpose": "offers", "action": "grant"}
    return str(client.post("/api/v1/consents", json=body, headers=auth("operator")).json()["event"]["id"])


def signed_link(page: str) -> str:
    match = re.search(r'<a href="([^"]+format=jwt[^"]*)" download>', page)
    assert match, "no signed download on the page"
    return html.unescape(match.group(1))


def test_a_person_downloads_their_receipt_signed_and_it_verifies(
    container: Container,
    browser: TestClient,
    client: TestClient,
    codes: FakeCodeSender,
    auth: Callable[..., dict[str, str]],
) -> None:
    with container.sessions.begin() as s:
        create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE)],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
    own, other = grant(client, auth, PHONE), grant(client, auth, "+37129000612")
    portal_sign_in(browser, PHONE, codes.last_code)
    page = browser.get(f"/portal/receipts/{own}").text
    kid = container.receipt_keys.key_for("lmt").kid  # type: ignore[union-attr]
    assert kid in page and 'href="/.well-known/jwks.json"' in page
    r = browser.get(signed_link(page))
    assert r.status_code == 200 and r.headers["content-type"] == "application/jwt"
    header, payload = verify(r.text, browser.get("/.well-known/jwks.json").text)
    assert header["kid"] == kid and payload["consentReceiptID"] == own
    assert browser.get(f"/portal/receipts/{other}/download?format=jwt").status_code == 404


def test_staff_download_a_signed_receipt_from_the_console(
    container: Container,
    browser: TestClient,
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    event_id = grant(client, auth, PHONE)
    console_login(browser, *staff_member("operator"))
    page = browser.get(f"/console/receipts/{event_id}").text
    r = browser.get(signed_link(page))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    _, payload = verify(r.text, browser.get("/.well-known/jwks.json").text)
    assert payload["consentReceiptID"] == event_id


def test_a_receipt_page_says_when_its_company_signs_nothing(
    container: Container,
    browser: TestClient,
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    from sargs.domains.consent.receipt_keys import ReceiptKeys

    container.receipt_keys = ReceiptKeys([])  # as without SARGS_RECEIPT_KEYS outside demo mode
    event_id = grant(client, auth, PHONE)
    console_login(browser, *staff_member("operator"))
    page = browser.get(f"/console/receipts/{event_id}").text
    assert "format=jwt" not in page and "Nav parakstīts" in page
    refused = browser.get(f"/console/receipts/{event_id}/download?format=jwt")
    assert refused.status_code == 422 and "are not signed" in refused.text  # the console's error page
