"""The DPO's pages in a real headless Chromium: register a breach through the form, the live
countdown runs under the strict CSP, the dashboard draws its charts, the record downloads."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sargs.domains.staff.service import add_staff
from sargs.entrypoints.cli.demo_data import generate
from tests.e2e.test_browser import console_sign_in

pytestmark = pytest.mark.browser

DPO = ("dpo@reports.example", "dpo-password-2026")


def test_dpo_registers_a_breach_and_reads_the_dashboard_in_a_real_browser(
    live: Any, browser: Any, shoot: Any
) -> None:
    server, container, _ = live
    base = server.url
    generate(container=container, subjects=300)
    with container.sessions.begin() as s:
        add_staff(session=s, email=DPO[0], name="DPO", role="dpo", password=DPO[1], now=container.clock.now())
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    console_sign_in(page, base, *DPO)
    page.get_by_role("link", name="Data protection").click()
    page.wait_for_url(f"{base}/console/dashboard")

    page.get_by_role("link", name="Breaches").first.click()
    page.get_by_role("link", name="Register a breach").click()
    page.locator("#b-controller").select_option("lmt")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Breach", exact=True).fill("Loyalty export left on a public link")
    page.get_by_label("What happened (nature of the breach)").fill(
        "A members export was reachable by a public link."
    )
    page.locator("input[name=data_categories][value=contact]").check()
    page.get_by_label("Approximate number of people").fill("1200")
    page.locator("input[name=affected_tables][value='loyalty.members']").check()
    shoot(page, "breach-form")
    page.get_by_role("button", name="Register a breach").click()
    page.wait_for_url(re.compile(rf"{re.escape(base)}/console/breaches/[0-9a-f]{{32}}$"))
    timer = page.get_by_role("timer")
    assert re.fullmatch(r"7[12] h \d\d min", timer.inner_text().strip()), timer.inner_text()
    page.get_by_label("a high risk".replace("a ", "")).check() if False else page.locator(
        "input[name=risk][value=high]"
    ).check()
    page.locator("#a-reasoning").fill("Phone numbers allow fraudulent calls.")
    page.get_by_role("button", name="Save the assessment").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF (en)").click()
    assert download.value.suggested_filename.endswith("-en.pdf")
    shoot(page, "breach-detail")

    page.goto(f"{base}/console/breaches?lang=en")
    assert page.get_by_role("timer").count() == 1
    shoot(page, "breach-list")

    page.goto(f"{base}/console/dashboard?lang=en")
    assert page.locator("svg.chart").count() >= 3
    assert page.locator("#chart-consents-time polyline").count() >= 1
    box = page.locator("#chart-consents-time").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    shoot(page, "dashboard")

    page.goto(f"{base}/console/ropa?lang=en")
    with page.expect_download() as download:
        page.get_by_role("link", name="Latvijas Mobilais Telefons SIA PDF lv").click()
    assert download.value.suggested_filename == "record-of-processing-lmt-lv.pdf"
    shoot(page, "ropa")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    context.close()
