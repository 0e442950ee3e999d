"""Issue 5's Done-when scenario in a real headless Chromium: a person files an erasure request in
the portal, an operator verifies identity in the console, the DPO fulfils it against the sample
shop database (orders under the 10-year rule kept) and downloads the answer PDF."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text

from sargs.bootstrap import example_policy_paths
from sargs.core.db import make_engine
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.staff.service import add_staff
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.dsr_fakes import with_empty_mailer
from tests.e2e.test_browser import console_sign_in
from tests.helpers import sql_sources_only

pytestmark = pytest.mark.browser

PHONE = "+37129333444"
DPO = ("dpo@lytagra.example", "dpo-password-2026")
OPERATOR = ("klientu.centrs@lytagra.example", "operator-password-2026")


@pytest.fixture
def example_policies() -> list[Policy]:
    """Without the retailer's paper archive: its manual task is tested in test_dsr_followups."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()])


def test_erasure_request_from_portal_to_answer_pdf_in_a_real_browser(
    live: Any, browser: Any, shoot: Any, tmp_path: Path
) -> None:
    server, container, codes = live
    base = server.url
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    create_shop(shop, people=20, now=datetime.now(UTC), known=[KnownPerson(msisdn=PHONE)])
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    with container.sessions.begin() as s:
        for (email, password), role in ((DPO, "dpo"), (OPERATOR, "operator")):
            add_staff(
                session=s,
                email=email,
                name=f"Lytagra {role}",
                role=role,
                password=password,
                controllers=["lytagra-lv"],
                now=container.clock.now(),
            )
        create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE)],
            now=container.clock.now(),
            groups={"lytagra-lv": "client"},
        )

    person = browser.new_context()
    page = person.new_page()
    page.goto(f"{base}/portal/signin?lang=en")
    page.get_by_label("Phone number or e-mail address").fill("29333444")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(codes.last_code(PHONE))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/portal/consents")
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("What do you ask for?").select_option("erasure")
    page.get_by_label("Ground / scope").select_option("no_longer_needed")
    page.get_by_label("Name, surname").fill("Māris Bērziņš")
    page.get_by_label("Place of residence").fill("Jelgava, Lielā iela 2")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(f"{base}/portal/requests?received=1")
    assert "received" in page.locator("table").inner_text()
    shoot(page, "portal-request-filed")

    staff = browser.new_context()
    page = staff.new_page()
    console_sign_in(page, base, *OPERATOR)
    page.get_by_role("link", name="Rights requests").click()
    due = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert due in page.locator("table").inner_text()
    page.get_by_role("link", name="Erase my data").click()
    shoot(page, "console-request-received")
    page.get_by_label("Method").select_option("portal_session")
    page.get_by_role("button", name="Verify identity").click()
    page.locator('#dsr-status[data-status="verified"]').wait_for()
    assert page.get_by_role("button", name="Fulfil").count() == 0  # the operator does not fulfil
    staff.close()

    staff = browser.new_context(accept_downloads=True)
    page = staff.new_page()
    console_sign_in(page, base, *DPO)
    page.goto(f"{base}/console/dsr?lang=en")
    page.get_by_role("link", name="Erase my data").click()
    page.get_by_role("button", name="Fulfil").click()
    # The worker runs it in the background; the page shows the task and polls its progress, then
    # reloads when it is done.
    page.locator("#task[data-task-status]").wait_for()
    shoot(page, "console-request-fulfilment-queued")
    page.locator('#dsr-status[data-status="partially_fulfilled"]').wait_for()
    assert (
        page.locator('#task[data-task-status="done"] li[data-source="shop"]').get_attribute("data-state")
        == "ok"
    )
    assert page.locator('tr[data-source="shop"]').get_attribute("data-status") == "ok"
    shoot(page, "console-request-fulfilled")
    with page.expect_download() as download:
        page.get_by_role("link", name="Answer (PDF)").click()
    pdf = Path(download.value.path()).read_bytes()
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    # In the language the person used in the portal (English here).
    assert "kept for 10 years" in words and "Data State Inspectorate" in words
    staff.close()

    engine = make_engine(shop)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM orders WHERE customer_id = 1")).scalar()
        events = conn.execute(text("SELECT count(*) FROM email_events WHERE customer_id = 1")).scalar()
    engine.dispose()
    assert kept and kept > 0 and events == 0
    with container.read_sessions.begin() as s:
        assert verify_ledger(session=s).ok
