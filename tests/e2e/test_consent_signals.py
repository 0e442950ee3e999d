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


def regional_defaults(found: list[list[Any]]) -> list[int]:
    return [i for i, c in enumerate(found) if c[:3] == ["gtag", "consent", "default"] and "region" in c[3]]


US_CA = consent(["analytics_storage"]) | {"region": ["US-CA"], "wait_for_update": 500}


def test_the_websites_script_sets_its_region_default_beside_the_global_one_before_any_tag(
    live_regions: LiveServer, browser: Any
) -> None:
    # The demo site loads /api/v1/web/sargs-consent.js?controller=lmt: the policy's regional
    # defaults are built into the script, so they go out before the tag runs, not after a fetch.
    ctx, page = open_site(browser, live_regions.url)
    found = wait_for_calls(page, 4)
    assert found[:4] == [
        ["gtag", "consent", "default", consent([]) | {"wait_for_update": 500}],
        ["gtag", "consent", "default", US_CA],
        ["uetq", "consent", "default", {"ad_storage": "denied"}],
        ["tag", "google-tag", "consent api present"],
    ], found
    page.get_by_role("button", name="Tikai nepieciešamās").click()
    after = wait_for_calls(page, 6)
    assert after[4] == ["gtag", "consent", "update", consent(REQUIRED)]  # the choice overrides the region
    assert regional_defaults(after) == [1]  # sent once
    ctx.close()


def edited_site(browser: Any, url: str, edit: Any, **context: Any) -> tuple[Any, Any]:
    """The demo site with its page changed by `edit` (its headers, CSP included, kept)."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()

    def rewrite(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=edit(response.text()))

    page.route(f"{url}/demo-site/", rewrite)
    page.goto(f"{url}/demo-site/")
    page.get_by_role("dialog").wait_for()
    return ctx, page


def static_script(html: str) -> str:
    out = html.replace("/api/v1/web/sargs-consent.js?controller=lmt", "/static/sargs-consent.js")
    assert out != html
    return out


def test_the_static_script_sends_the_region_default_once_the_categories_arrive(
    live_regions: LiveServer, browser: Any
) -> None:
    ctx, page = edited_site(browser, live_regions.url, static_script)
    found = wait_for_calls(page, 4)
    assert found[0] == ["gtag", "consent", "default", consent([]) | {"wait_for_update": 500}]
    [late] = regional_defaults(found)
    assert found[late] == ["gtag", "consent", "default", US_CA]
    # After the tag ran: why docs/website.md prefers the website's own script URL.
    assert late > found.index(["tag", "google-tag", "consent api present"])
    ctx.close()


def test_the_websites_script_needs_no_data_controller(live_regions: LiveServer, browser: Any) -> None:
    def bare(html: str) -> str:
        out = html.replace(' data-controller="lmt"', "")
        assert out.count("data-controller") == html.count("data-controller") - 1
        return out

    ctx, page = edited_site(browser, live_regions.url, bare)
    assert wait_for_calls(page, 2)[1] == ["gtag", "consent", "default", US_CA]
    page.get_by_role("button", name="Atļaut visas").click()
    assert wait_for_calls(page, 7)[6] == ["onChange", ["functional", "analytics", "marketing"]]
    ctx.close()


def without_stubs(html: str) -> str:
    out = html.replace('<script src="/static/demo-site/tag-stubs.js"></script>', "")
    out = out.replace('<script src="/static/demo-site/google-tag.js"></script>', "")
    assert out.count("<script") == html.count("<script") - 2
    return out


def test_without_a_gtag_function_the_banner_defines_one_that_feeds_the_data_layer(
    live: Any, browser: Any
) -> None:
    server, _, _ = live
    ctx, page = edited_site(browser, server.url, without_stubs)
    layer = "window.dataLayer.map(e => e.event ? e : Array.from(e))"
    assert page.evaluate("typeof window.gtag") == "function"
    assert page.evaluate(layer) == [["consent", "default", consent([]) | {"wait_for_update": 500}]]
    assert page.evaluate("window.uetq") == ["consent", "default", {"ad_storage": "denied"}]

    page.get_by_role("button", name="Tikai nepieciešamās").click()
    deadline = time.monotonic() + 15
    while len(found := page.evaluate(layer)) < 3:
        assert time.monotonic() < deadline, found
        page.wait_for_timeout(50)
    assert found[1:] == [
        ["consent", "update", consent(REQUIRED)],
        {"event": "sargs_consent_update", "sargs_categories": ["functional"]},
    ]
    assert page.evaluate("window.uetq.slice(3)") == ["consent", "update", {"ad_storage": "denied"}]
    ctx.close()


@pytest.mark.parametrize(
    ("page_lang", "accept_all"),
    [
        ("en-GB", "Allow all"),
        ("en-GB-oxendict", "Allow all"),
        ("lv-LV", "Atļaut visas"),
        ("de", "Atļaut visas"),
        ("english", "Atļaut visas"),
    ],
)
def test_the_banner_speaks_the_pages_language_when_the_policy_gives_it(
    live: Any, browser: Any, page_lang: str, accept_all: str
) -> None:
    # <html lang> decides (the demo's script tag has no data-lang); German has no texts and
    # "english" is no language tag: the policy's default language, Latvian.
    server, _, _ = live

    def relang(html: str) -> str:
        assert '<html lang="lv">' in html
        return html.replace('<html lang="lv">', f'<html lang="{page_lang}">')

    ctx, page = edited_site(browser, server.url, relang)
    expected = "en" if accept_all == "Allow all" else "lv"
    assert page.get_by_role("dialog").get_attribute("lang") == expected
    page.get_by_role("button", name=accept_all).click()
    wait_for_calls(page, 6)
    ctx.close()
