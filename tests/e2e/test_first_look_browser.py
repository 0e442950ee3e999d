"""The first pages a person opens, in a real headless Chromium: the start page and a console page
load without a single console error (the favicon no longer 404s), and an overdue breach's live
clock keeps reading "overdue by … h" in the page's language once the script takes over."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from sargs.domains.access.principal import Principal
from sargs.domains.breaches.service import register_breach
from sargs.domains.staff.service import add_staff

pytestmark = pytest.mark.browser

DPO = ("dpo@first.example", "dpo-password-2026")


def test_the_start_page_and_the_console_load_without_console_errors(live: Any, browser: Any) -> None:
    server, container, _ = live
    base = server.url
    now = container.clock.now()
    with container.sessions.begin() as s:
        add_staff(session=s, email=DPO[0], name="DPO", role="dpo", password=DPO[1], now=now)
        register_breach(
            session=s,
            registry=container.registry,
            controller="lmt",
            values={
                "title": "Lost laptop",
                "nature": "A laptop with a customer export was lost.",
                "aware_at": now - timedelta(hours=72 + 246, minutes=40),
            },
            by=Principal("staff", "test", "dpo", None),
            now=now,
        )
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(f"{base}/?lang=lv")
    page.get_by_role("link", name="Darbinieku konsole").click()
    page.wait_for_url(f"{base}/console/login")
    page.get_by_label("E-pasts").fill(DPO[0])
    page.get_by_label("Parole").fill(DPO[1])
    page.get_by_role("button", name="Pieslēgties").click()
    page.wait_for_url(f"{base}/console/")
    page.goto(f"{base}/console/breaches")
    page.wait_for_load_state("networkidle")
    timer = page.get_by_role("timer")
    # breach-clock.js has replaced the server's text by its own by now (it ticks on DOMContentLoaded)
    assert re.fullmatch(r"nokavēts par 24[67] h", timer.inner_text().strip()), timer.inner_text()
    page.goto(f"{base}/console/breaches?lang=en")
    page.wait_for_load_state("networkidle")
    assert re.fullmatch(r"overdue by 24[67] h", page.get_by_role("timer").inner_text().strip())
    assert problems == [], problems
    context.close()
