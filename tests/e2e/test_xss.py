"""No stored (or reflected) XSS in the console or the portal, in a real headless Chromium.

Markup and script are stored everywhere a person or a staff member can leave text that staff or
the person later see: SMS keyword messages (through `handle_inbound`, shown on the console's
person page), staff names (typed into the console's staff form), contact details a person adds
in the portal (e-mail addresses may hold `<`, `>` and quotes), a stated access reason (shown in
the access log), rights-request details and consent evidence. Every page that shows them is
then opened twice: once with the Content-Security-Policy switched off (`bypass_csp`), so that
escaping alone must keep the payloads inert, and once with it on, where not a single CSP
violation may occur (the pages need no inline code). `window.__xss` must stay undefined, no
element or event handler may come out of a payload, and the payload must be readable as text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.sms.service import InboundMessage, handle_inbound
from sargs.domains.staff.service import add_staff
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from tests.e2e.test_browser import console_sign_in

pytestmark = pytest.mark.browser

PHONE = "+37129111333"
DPO = ("dpo@xss.example", "dpo-password-2026")
REASON = "ticket 1234"
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload=window.__xss=1>',
    "</code></td></tr></table><script>window.__xss=1</script>",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<div hx-get="/console/" hx-trigger="load" hx-on::after-request="window.__xss=1">htmx</div>',
    "{{7*7}} ${7*7} <%= 7*7 %>",
]
# E-mail addresses refuse < > " ( ) , ; : [ ] and spaces, but may still hold quotes, equals signs
# and entity-like text; normalised to lower case.
EMAILS = [
    "x'/onfocus='window.__xss=1'/autofocus/x@example.lv",
    "&ltimg/src=x/onerror=window.__xss=1&gt@example.lv",
]

CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
INSPECT = """() => ({
  xss: window.__xss === undefined ? null : String(window.__xss),
  scripts: [...document.scripts].map(s => s.getAttribute('src')),
  injected: [...document.querySelectorAll('img, svg, iframe, object, embed, [hx-trigger]')].map(e => e.outerHTML),
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
      .filter(a => a.name.startsWith('on') || a.name.startsWith('hx-on')).map(a => e.tagName + ' ' + a.name)),
  csp: window.__csp || [],
  text: document.body.innerText,
  title: document.title,
})"""


def inert(page: Any, shown: list[str] = (), *, csp_on: bool) -> dict[str, Any]:  # type: ignore[assignment]
    """No payload ran or became markup; each text in `shown` is on the page as text."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)  # time for an onerror / htmx load trigger to fire, were there one
    state: dict[str, Any] = page.evaluate(INSPECT)
    where = page.url
    assert state["xss"] is None, where
    assert state["scripts"] == ["/static/htmx.min.js", "/static/sargs.js"], where
    assert state["injected"] == [] and state["handlers"] == [], (where, state["injected"], state["handlers"])
    assert "<" not in state["title"], where
    for text in shown:
        assert text in state["text"], (where, text)
    if csp_on:
        assert state["csp"] == [], (where, state["csp"])
    return state


def store_everything(container: Any) -> tuple[str, str]:
    """The DPO, the person, the SMS messages and a consent whose evidence carries markup."""
    now = container.clock.now()
    with container.sessions.begin() as s:
        add_staff(session=s, email=DPO[0], name="Datu Inspektore", role="dpo", password=DPO[1], now=now)
        subject_id = create_subject(
            session=s, identities=[Identity("msisdn", PHONE)], now=now, groups={"lmt": "own"}
        )
    for n, text in enumerate(PAYLOADS):
        with container.sessions.begin() as s:
            handle_inbound(
                session=s,
                directory=container.sms,
                msg=InboundMessage(
                    provider="json", message_id=f"xss-{n}", sender=PHONE, to="29307777", text=text
                ),
                now=container.clock.now(),
            )
    with container.sessions.begin() as s:
        outcome = record_consent(
            session=s,
            registry=container.registry,
            subject_id=subject_id,
            controller="lmt",
            purpose="loyalty",
            action="grant",
            channel="api",
            actor=Actor("token", "integration"),
            now=container.clock.now(),
            evidence={f"note{n}": p for n, p in enumerate(PAYLOADS)},
        )
    assert outcome.event is not None
    return subject_id, outcome.event.id


def portal_sign_in(page: Any, base: str, codes: Any) -> None:
    page.goto(f"{base}/portal/signin?lang=en")
    page.get_by_label("Phone number or e-mail address").fill(PHONE)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(codes.last_code(PHONE))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/portal/consents")


def test_stored_markup_is_shown_as_text_and_never_runs(live: Any, browser: Any, shoot: Any) -> None:
    server, container, codes = live
    base = server.url
    subject_id, event_id = store_everything(container)

    # Staff and the person store their text through the real forms.
    setup = browser.new_context()
    page = setup.new_page()
    console_sign_in(page, base, *DPO)
    for n, name in enumerate(PAYLOADS):
        page.goto(f"{base}/console/staff?lang=en")
        page.locator("#s-name").fill(name)
        page.locator("#s-email").fill(f"staff{n}@xss.example")
        page.get_by_label("lmt", exact=True).check()
        page.locator("#s-password").fill("staff-password-2026")
        page.get_by_role("button", name="Add").click()
        page.wait_for_url(f"{base}/console/staff?added=1")
    for reason in PAYLOADS[:3]:  # a stated reason is stored in the access log, which staff read
        page.goto(f"{base}/console/find?" + urlencode({"kind": "msisdn", "value": PHONE, "reason": reason}))
        page.wait_for_url(f"{base}/console/subjects/{subject_id}?*")
    setup.close()

    setup = browser.new_context()
    page = setup.new_page()
    portal_sign_in(page, base, codes)
    for address in EMAILS:
        page.goto(f"{base}/portal/contact?lang=en")
        page.get_by_label("New phone number or e-mail address").fill(address)
        page.get_by_role("button", name="Send me a code").click()
        page.get_by_label("Code").fill(codes.last_code(address.lower()))
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(f"{base}/portal/contact?changed=1")
    page.goto(f"{base}/portal/requests?lang=en")
    page.get_by_label("Details (optional)").fill(PAYLOADS[0])
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(f"{base}/portal/requests?received=1")
    setup.close()

    emails = [a.lower() for a in EMAILS]
    for csp_on in (False, True):
        tag = "csp" if csp_on else "escaping-only"
        staff = browser.new_context(bypass_csp=not csp_on)
        staff.add_init_script(CSP_WATCH)
        page = staff.new_page()
        console_sign_in(page, base, *DPO)
        page.goto(f"{base}/console/subjects/{subject_id}?lang=en&reason={REASON.replace(' ', '+')}")
        inert(page, [*PAYLOADS, *emails], csp_on=csp_on)
        assert page.locator("[data-sms]").count() == len(PAYLOADS)
        shoot(page, f"console-subject-{tag}")
        page.goto(f"{base}/console/staff?lang=en")
        inert(page, PAYLOADS, csp_on=csp_on)
        shoot(page, f"console-staff-{tag}")
        page.goto(f"{base}/console/audit?lang=en")
        inert(page, PAYLOADS[:3], csp_on=csp_on)
        shoot(page, f"console-audit-{tag}")
        page.goto(f"{base}/console/receipts/{event_id}?lang=en&reason={REASON.replace(' ', '+')}")
        inert(page, csp_on=csp_on)
        # Reflected: a search for markup comes back in the form and the message, as text.
        page.goto(
            f"{base}/console/find?" + urlencode({"kind": "email", "value": PAYLOADS[1], "reason": REASON})
        )
        inert(page, csp_on=csp_on)
        assert page.locator("#value").input_value() == PAYLOADS[1]
        staff.close()

        person = browser.new_context(bypass_csp=not csp_on)
        person.add_init_script(CSP_WATCH)
        page = person.new_page()
        portal_sign_in(page, base, codes)
        page.goto(f"{base}/portal/contact?lang=en")
        inert(page, emails, csp_on=csp_on)
        shoot(page, f"portal-contact-{tag}")
        for path in (
            "/portal/requests",
            "/portal/history",
            f"/portal/receipts/{event_id}",
            "/portal/consents",
        ):
            page.goto(f"{base}{path}")
            inert(page, csp_on=csp_on)
        page.goto(f"{base}/portal/signin?lang=en")
        page.get_by_label("Phone number or e-mail address").fill(PAYLOADS[2])
        page.get_by_role("button", name="Send me a code").click()
        page.locator('[role="alert"]').wait_for()
        inert(page, csp_on=csp_on)
        assert page.locator("#identity").input_value() == PAYLOADS[2]
        shoot(page, f"portal-signin-reflected-{tag}")
        person.close()
