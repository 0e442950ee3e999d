"""The console and the portal in a real headless Chromium: the issue's Done-when scenario,
keyboard-only consent toggling, and a screenshot of every page (test-artifacts/screenshots)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sargs.domains.staff.service import add_staff
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from tests.web_helpers import AUTHENTICATORS, Authenticator

pytestmark = pytest.mark.browser

PHONE = "+37129111222"
DPO = ("dpo@lmt.example", "dpo-password-2026")
OPERATOR = ("kasiere@lmt.example", "operator-password-2026")


def setup_people(container: Any) -> str:
    with container.sessions.begin() as s:
        add_staff(
            session=s,
            email=DPO[0],
            name="Datu Inspektore",
            role="dpo",
            password=DPO[1],
            now=container.clock.now(),
        )
        return create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE), Identity("email", "janis@example.lv")],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )


def console_sign_in(page: Any, base: str, email: str, password: str, shoot: Any = None) -> None:
    """Password, then the second factor the server asks for (see second_factor)."""
    page.goto(f"{base}/console/login?lang=en")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    second_factor(page, base, email, shoot)


def code_now(email: str) -> str:
    """A code for the real clock that the server will still accept when it arrives. The
    authenticator hands out the oldest step the server accepts (the one before now), which
    expires at the end of this 30-second step: in its last 5 seconds, wait for the next one."""
    into_step = time.time() % 30
    if into_step > 25:
        time.sleep(30 - into_step + 0.1)
    return AUTHENTICATORS[email].code(datetime.now(UTC))


def second_factor(page: Any, base: str, email: str, shoot: Any = None) -> None:
    """After the password, in either language: a DPO or admin without an authenticator enrols one
    on the page (its key kept in AUTHENTICATORS), later sign-ins enter a code; then the console."""
    page.wait_for_url(re.compile(re.escape(base) + r"/console/(login/(code|enrol))?$"))
    if page.url.endswith("/console/login/enrol"):
        assert page.locator("figure[role=img] svg").is_visible()
        if shoot:
            shoot(page, "console-mfa-enrol")
        AUTHENTICATORS[email] = Authenticator(page.locator("[data-secret]").inner_text())
        page.locator("#code").fill(code_now(email))
        page.locator("button[type=submit]").last.click()
        page.locator("[data-recovery]").first.wait_for(
            timeout=90_000
        )  # ten argon2 hashes: slow on a loaded machine
        assert page.locator("[data-recovery]").count() == 10
        if shoot:
            shoot(page, "console-mfa-recovery-codes")
        page.locator('a[href="/console/"]').last.click()
    elif page.url.endswith("/console/login/code"):
        if shoot:
            shoot(page, "console-mfa-code")
        page.locator("#code").fill(code_now(email))
        page.locator("button[type=submit]").last.click()
    page.wait_for_url(f"{base}/console/")


def tab_to(page: Any, element_id: str | None = None, *, text: str | None = None, limit: int = 60) -> None:
    """Press Tab until the focused element has this id (or this text)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.id, document.activeElement.textContent.trim()]")
        if (element_id and focused[0] == element_id) or (text and focused[1] == text):
            return
    raise AssertionError(f"could not reach {element_id or text} with the keyboard")


def test_done_when_in_a_real_browser(live: Any, browser: Any, shoot: Any) -> None:
    server, container, codes = live
    base = server.url
    subject_id = setup_people(container)

    # The DPO creates an operator.
    dpo = browser.new_context()
    page = dpo.new_page()
    page.goto(f"{base}/console/login?lang=en")
    shoot(page, "console-login")
    console_sign_in(page, base, *DPO, shoot=shoot)
    page.goto(f"{base}/console/staff")
    page.get_by_label("Name").fill("Kasiere Ilze")
    page.locator("#s-email").fill(OPERATOR[0])
    page.get_by_label("lmt", exact=True).check()
    page.locator("#s-password").fill(OPERATOR[1])
    shoot(page, "console-staff-form")
    page.get_by_role("button", name="Add").click()
    page.wait_for_url(f"{base}/console/staff?added=1")
    assert page.get_by_role("cell", name=OPERATOR[0], exact=True).is_visible()
    shoot(page, "console-staff-added")
    dpo.close()

    # The operator finds the subject (htmx result) and records a consent in person.
    op = browser.new_context()
    page = op.new_page()
    console_sign_in(page, base, *OPERATOR)
    page.get_by_label("Look up by").select_option("msisdn")
    page.get_by_label("Value").fill("29111222")
    page.get_by_role("button", name="Find").click()
    page.locator("#open-subject").wait_for()
    shoot(page, "console-find")
    page.locator("#open-subject").click()
    page.wait_for_url(f"{base}/console/subjects/{subject_id}")
    shoot(page, "console-subject")
    page.get_by_label("Company / Purpose").select_option("lmt/offers")
    page.get_by_role("button", name="Record").click()
    page.wait_for_url(f"{base}/console/receipts/**")
    assert page.locator("#receipt").is_visible() and page.get_by_role("button", name="Print").is_visible()
    shoot(page, "console-receipt")
    op.close()

    # The subject signs in with a code, sees the consent and withdraws it with the keyboard only.
    person = browser.new_context()
    page = person.new_page()
    page.goto(f"{base}/portal/signin?lang=en")
    shoot(page, "portal-signin")
    page.get_by_label("Phone number or e-mail address").fill("29111222")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").wait_for()
    shoot(page, "portal-code")
    page.get_by_label("Code").fill(codes.last_code(PHONE))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/portal/consents")
    toggle = page.locator("#c-lmt-offers")
    assert toggle.is_checked()
    shoot(page, "portal-consents")

    tab_to(page, "c-lmt-offers")
    page.keyboard.press("Space")
    assert not toggle.is_checked()
    tab_to(page, text="Save choices")
    page.keyboard.press("Enter")
    page.locator("#consents-lmt .saved").get_by_text("Saved.").wait_for()
    shoot(page, "portal-consents-saved")
    page.reload()
    assert not page.locator("#c-lmt-offers").is_checked()
    assert "withdrawn" in page.locator("#consents-lmt").inner_text()

    page.get_by_role("link", name="History").click()
    page.wait_for_url(f"{base}/portal/history")
    assert page.get_by_role("link", name="Receipt").count() == 2
    shoot(page, "portal-history")
    page.get_by_role("link", name="Receipt").first.click()
    page.locator("#receipt").wait_for()
    shoot(page, "portal-receipt")
    page.get_by_role("link", name="Contact details").click()
    shoot(page, "portal-contact")
    page.get_by_role("link", name="Requests").click()
    shoot(page, "portal-requests")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/portal/signin")
    person.close()

    # The DPO sees both accesses in the access log.
    dpo = browser.new_context()
    page = dpo.new_page()
    console_sign_in(page, base, *DPO, shoot=shoot)
    page.goto(f"{base}/console/audit?subject=msisdn:{PHONE}")
    log = page.locator("#audit-log").inner_text()
    assert "POST /console/subjects/{subject_id}/consents" in log and "operator" in log
    assert "POST /portal/consents" in log and "subject" in log
    shoot(page, "console-audit")
    dpo.close()


def test_portal_consent_toggle_works_with_the_keyboard_and_without_javascript(
    live: Any, browser: Any, shoot: Any
) -> None:
    server, container, codes = live
    base = server.url
    setup_people(container)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/portal/signin?lang=lv")
    page.get_by_label("Tālruņa numurs vai e-pasta adrese").fill(PHONE)
    page.keyboard.press("Enter")
    page.get_by_label("Kods").wait_for()
    page.get_by_label("Kods").fill(codes.last_code(PHONE))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/portal/consents")
    tab_to(page, "c-lmt-offers")
    page.keyboard.press("Space")
    tab_to(page, text="Saglabāt izvēles")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/portal/consents?saved=1")
    assert page.locator("#c-lmt-offers").is_checked()
    shoot(page, "portal-consents-no-js-lv")
    context.close()
