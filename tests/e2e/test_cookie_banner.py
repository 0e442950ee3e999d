"""The cookie banner on the demo's sample site in a real headless Chromium (R-WEB-1): tagged
scripts stay blocked until their category is accepted, Global Privacy Control refuses marketing,
the banner is reachable and usable by keyboard, and the choice is reopened and changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from sargs.domains.web.model import CookieConsent

pytestmark = pytest.mark.browser

GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


def choices(container: Any) -> list[CookieConsent]:
    with container.read_sessions.begin() as s:
        return list(s.scalars(select(CookieConsent).order_by(CookieConsent.recorded_at)))


def loaded(page: Any, name: str) -> None:
    """Wait until the demo script of this category has run (no string eval: the page's CSP forbids it)."""
    page.locator(f"#{name}-status", has_text="ielādēts").wait_for()


def statuses(page: Any) -> tuple[str, str]:
    return page.locator("#statistics-status").inner_text(), page.locator("#marketing-status").inner_text()


def test_accepting_only_statistics_leaves_the_marketing_script_blocked(
    live: Any, browser: Any, shoot: Any
) -> None:
    server, container, _ = live
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/demo-site/")
    dialog = page.get_by_role("dialog", name="Sīkdatņu izvēle")
    dialog.wait_for()
    shoot(page, "banner")
    assert statuses(page) == ("bloķēts / blocked", "bloķēts / blocked")
    assert page.get_by_label("Funkcionālās sīkdatnes (vienmēr ieslēgtas)").is_disabled()

    page.get_by_label("Analītikas sīkdatnes").check()
    page.get_by_role("button", name="Saglabāt izvēli").click()
    dialog.wait_for(state="detached")
    loaded(page, "statistics")
    shoot(page, "statistics-only")
    assert statuses(page) == ("ielādēts / loaded", "bloķēts / blocked")
    assert page.evaluate("window.sargsDemoMarketing") is None

    [stored] = choices(container)
    assert (
        stored.accepted == ["functional", "analytics"] and stored.refused == ["marketing"] and not stored.gpc
    )

    # The choice is remembered on the next page load: no banner, statistics runs, marketing does not.
    page.reload()
    loaded(page, "statistics")
    assert page.get_by_role("dialog").count() == 0 and page.evaluate("window.sargsDemoMarketing") is None

    # Reopened and changed: marketing now runs, and the new choice is appended.
    page.get_by_role("button", name="Sīkdatņu iestatījumi").click()
    page.get_by_label("Mārketinga sīkdatnes").check()
    page.get_by_role("button", name="Saglabāt izvēli").click()
    loaded(page, "marketing")
    assert [c.accepted for c in choices(container)][-1] == ["functional", "analytics", "marketing"]
    context.close()


def test_with_global_privacy_control_marketing_is_refused_even_when_allowing_all(
    live: Any, browser: Any, shoot: Any
) -> None:
    server, container, _ = live
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"}, locale="en-GB")
    context.add_init_script(GPC_SCRIPT)
    page = context.new_page()
    page.goto(f"{server.url}/demo-site/")
    page.get_by_role("dialog").wait_for()
    assert page.get_by_text("Global Privacy Control").is_visible()
    assert page.get_by_label("Mārketinga sīkdatnes").is_disabled()
    shoot(page, "gpc-banner")
    page.get_by_role("button", name="Atļaut visas").click()
    loaded(page, "statistics")
    shoot(page, "gpc-allowed-all")
    assert statuses(page) == ("ielādēts / loaded", "bloķēts / blocked")
    [stored] = choices(container)
    assert stored.gpc and stored.refused == ["marketing"]
    context.close()


def test_the_banner_works_by_keyboard_alone(live: Any, browser: Any) -> None:
    server, container, _ = live
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/demo-site/")
    page.get_by_role("dialog").wait_for()
    assert page.evaluate("document.activeElement.id") == "sargs-consent"  # focus moved into the dialog
    for _ in range(20):  # Tab to the statistics checkbox, tick it with Space
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "sargs-cat-analytics":
            break
    else:
        raise AssertionError("the statistics checkbox is not reachable by keyboard")
    page.keyboard.press("Space")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Saglabāt izvēli":
            break
    page.keyboard.press("Enter")
    loaded(page, "statistics")
    assert [c.accepted for c in choices(container)] == [["functional", "analytics"]]
    context.close()
