"""Issue 16's Done-when in a real headless Chromium: the portal person cancels one request and
completes another that staff put on hold for missing content."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor, hold, lock_request
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject

pytestmark = pytest.mark.browser

PHONE = "+37129333555"


def test_portal_person_cancels_one_request_and_completes_another(live: Any, browser: Any, shoot: Any) -> None:
    server, container, codes = live
    base = server.url
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE)],
            now=container.clock.now(),
            groups={"lytagra-lv": "client"},
        )
    person = browser.new_context()
    page = person.new_page()
    page.goto(f"{base}/portal/signin?lang=en")
    page.get_by_label("Phone number or e-mail address").fill("29333555")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(codes.last_code(PHONE))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/portal/consents")
    for kind in ("access", "rectification"):
        page.goto(f"{base}/portal/requests?lang=en")
        page.get_by_label("What do you ask for?").select_option(kind)
        page.get_by_role("button", name="Send request").click()
        page.wait_for_url(f"{base}/portal/requests?received=1")
    with container.sessions.begin() as s:
        ids = {r.kind: r.id for r in s.scalars(select(DsrRequest).where(DsrRequest.subject_id == subject_id))}
        req = lock_request(session=s, request_id=ids["rectification"])
        hold(
            session=s,
            request=req,
            message="Please give your name, address and what to correct",
            actor=DsrActor("staff", "u1"),
            now=container.clock.now(),
        )

    # Cancel the access request.
    page.goto(f"{base}/portal/requests/{ids['access']}?lang=en")
    assert "Answer due by" in page.content()
    page.get_by_role("button", name="Cancel the request").click()
    page.get_by_text("The request is cancelled").wait_for()
    assert page.locator("[data-status]").get_attribute("data-status") == "cancelled"
    assert page.get_by_role("button", name="Cancel the request").count() == 0
    shoot(page, "portal-request-cancelled")

    # Complete the one on hold.
    page.goto(f"{base}/portal/requests/{ids['rectification']}?lang=en")
    assert "Please give your name" in page.content()
    page.locator("#c-name").fill("Māris Bērziņš")
    page.locator("#c-address").fill("Jelgava, Lielā iela 2")
    page.locator("#c-details").fill("My surname is misspelt")
    page.get_by_role("button", name="Send the missing information").click()
    page.get_by_text("the information was added").wait_for()
    assert page.locator("[data-status]").get_attribute("data-status") == "received"
    assert page.locator('li[data-action="resumed"]').count() == 1
    shoot(page, "portal-request-completed")
    person.close()
    with container.read_sessions.begin() as s:
        rows = {
            r.kind: r.status for r in s.scalars(select(DsrRequest).where(DsrRequest.subject_id == subject_id))
        }
    assert rows == {"access": "cancelled", "rectification": "received"}
