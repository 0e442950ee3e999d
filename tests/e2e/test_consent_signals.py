"""Consent signals for tag managers in a real headless Chromium (issue 17): on the demo site, whose
stand-in Google (gtag / dataLayer) and Microsoft (uetq) tags record every call in order, the
banner sets every Consent Mode type denied before any tag runs, and sends an update matching each
choice — allow all, necessary only, a custom choice, a Global Privacy Control refusal — plus
per-region defaults from the policy, and `window.sargs.consent` for other scripts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sargs.bootstrap import build
from sargs.core.config import Settings
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.web import ConsentMode, RegionDefault
from sargs.migrations import upgrade
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

TYPES = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
]
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


def consent(granted: list[str]) -> dict[str, str]:
    return {t: "granted" if t in granted else "denied" for t in TYPES}


REQUIRED = ["functionality_storage", "security_storage"]  # telecom's "functional" category
ADS = ["ad_storage", "ad_user_data", "ad_personalization"]


def calls(page: Any) -> list[list[Any]]:
    return list(page.evaluate("window.sargsDemoCalls"))


def wait_for_calls(page: Any, count: int) -> list[list[Any]]:
    """The calls once there are `count` of them (polled from Python: the page's CSP forbids the
    string evaluation wait_for_function polls with)."""
    deadline = time.monotonic() + 15
    while len(found := calls(page)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} tag calls, got {found}")
        page.wait_for_timeout(50)
    return found


def open_site(browser: Any, url: str, **context: Any) -> tuple[Any, Any]:
    gpc = context.pop("gpc", False)
    ctx = browser.new_context(**context)
    if gpc:
        ctx.add_init_script(GPC_SCRIPT)
    page = ctx.new_page()
    page.goto(f"{url}/demo-site/")
    page.get_by_role("dialog").wait_for()
    return ctx, page


def test_the_default_denies_every_type_before_any_tag_and_allow_all_updates_them(
    live: Any, browser: Any, shoot: Any
) -> None:
    server, _, _ = live
    ctx, page = open_site(browser, server.url)
    first = calls(page)
    default = consent([]) | {"wait_for_update": 500}
    assert first[:3] == [
        ["gtag", "consent", "default", default],
        ["uetq", "consent", "default", {"ad_storage": "denied"}],
        ["tag", "google-tag", "consent api present"],
    ], first
    assert page.evaluate("window.sargs.consent.get()") is None  # no choice yet: only the default

    page.get_by_role("button", name="Atļaut visas").click()
    after = wait_for_calls(page, 6)
    granted = [*REQUIRED, "analytics_storage", *ADS]
    assert after[3:6] == [
        ["gtag", "consent", "update", consent(granted)],
        ["uetq", "consent", "update", {"ad_storage": "granted"}],
        ["onChange", ["functional", "analytics", "marketing"]],
    ], after
    # Tag Manager reads the same through the dataLayer: the gtag calls and an event to trigger on.
    layer = page.evaluate("window.dataLayer.map(e => e.event || Array.from(e)[1])")
    assert layer == ["default", "update", "sargs_consent_update"]
    shoot(page, "allowed-all")

    # On the next page load the saved choice is sent as an update straight after the default.
    page.reload()
    again = wait_for_calls(page, 5)
    assert [c[:3] for c in again[:3]] == [
        ["gtag", "consent", "default"],
        ["uetq", "consent", "default"],
        ["tag", "google-tag", "consent api present"],
    ]
    assert again[3] == ["gtag", "consent", "update", consent(granted)]
    assert page.evaluate("window.sargs.consent.get().categories") == ["functional", "analytics", "marketing"]
    ctx.close()


@pytest.mark.parametrize(
    ("how", "granted", "ads"),
    [
        ("reject", REQUIRED, "denied"),
        ("custom", [*REQUIRED, "analytics_storage"], "denied"),
    ],
)
def test_necessary_only_and_a_custom_choice_update_exactly_their_types(
    live: Any, browser: Any, how: str, granted: list[str], ads: str
) -> None:
    server, _, _ = live
    ctx, page = open_site(browser, server.url)
    if how == "reject":
        page.get_by_role("button", name="Tikai nepieciešamās").click()
    else:
        page.get_by_label("Analītikas sīkdatnes").check()
        page.get_by_role("button", name="Saglabāt izvēli").click()
    after = wait_for_calls(page, 6)
    assert after[3] == ["gtag", "consent", "update", consent(granted)], after
    assert after[4] == ["uetq", "consent", "update", {"ad_storage": ads}]
    ctx.close()


def test_global_privacy_control_is_sent_as_a_refusal_at_once_and_keeps_ads_denied(
    live: Any, browser: Any
) -> None:
    server, _, _ = live
    ctx, page = open_site(browser, server.url, gpc=True, extra_http_headers={"Sec-GPC": "1"})
    before = wait_for_calls(page, 5)
    # No choice yet, but GPC is one: the refusal goes out before the visitor clicks anything.
    assert before[3] == ["gtag", "consent", "update", consent(REQUIRED)], before
    assert before[4] == ["uetq", "consent", "update", {"ad_storage": "denied"}]

    page.get_by_role("button", name="Atļaut visas").click()
    after = wait_for_calls(page, 8)
    assert after[6] == ["gtag", "consent", "update", consent([*REQUIRED, "analytics_storage"])], after
    assert after[7] == ["uetq", "consent", "update", {"ad_storage": "denied"}]
    ctx.close()


@pytest.fixture
def live_regions(tmp_path: Path, example_policies: list[Policy]) -> Iterator[LiveServer]:
    """The demo site with a policy whose consent mode grants analytics by default in US-CA."""
    policies = []
    for policy in example_policies:
        if policy.web is not None and policy.web.controller == "lmt":
            mode = ConsentMode(
                wait_for_update_ms=500,
                regions=[RegionDefault(region=["US-CA"], granted=["analytics_storage"])],
            )
            policy = policy.model_copy(update={"web": policy.web.model_copy(update={"consent_mode": mode})})
        policies.append(policy)
    url = f"sqlite:///{tmp_path / 'regions.db'}"
    upgrade(url)
    container = build(Settings(database_url=url, demo=True), policies=policies)
    with LiveServer(container) as server:
        yield server
    container.close()


def test_a_region_default_from_the_policy_follows_the_global_default(
    live_regions: LiveServer, browser: Any
) -> None:
    ctx, page = open_site(browser, live_regions.url)
    found = wait_for_calls(page, 4)
    assert found[0] == ["gtag", "consent", "default", consent([]) | {"wait_for_update": 500}]
    regional = [c for c in found if c[:3] == ["gtag", "consent", "default"] and "region" in c[3]]
    assert regional == [
        [
            "gtag",
            "consent",
            "default",
            consent(["analytics_storage"]) | {"region": ["US-CA"], "wait_for_update": 500},
        ]
    ]
    ctx.close()


def test_the_banner_script_as_served_stays_under_12_kb(live: Any) -> None:
    import httpx

    server, _, _ = live
    body = httpx.get(f"{server.url}/static/sargs-consent.js").content
    assert b"consent" in body and len(body) < 12 * 1024, len(body)
