"""The banner script as served (issue 17): its size, a website's Consent Mode settings built into
its own copy, and the banner's language chosen from the page's and the policy's."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import build, create_app
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.policy.schema import Policy, Text
from sargs.domains.policy.web import ConsentMode, RegionDefault
from sargs.domains.web.cookies import banner_language
from sargs.entrypoints.container import Container

LIMIT = 12 * 1024  # issue 17: the banner script stays under 12 KB, uncompressed, as served
PRESET = re.compile(r"/\*sargs:consent-mode\*/(\{.*?\});\n")
REGIONS = ConsentMode(
    wait_for_update_ms=800,
    regions=[
        RegionDefault(region=["US-CA", "US-CO", "US-CT", "US-UT", "US-VA"], granted=["analytics_storage"]),
        RegionDefault(region=["GB"], granted=["functionality_storage", "security_storage"]),
    ],
)


def telecom(policies: list[Policy]) -> Policy:
    return next(p for p in policies if p.web is not None and p.web.controller == "lmt")


def changed(policies: list[Policy], change: Callable[[Policy], Policy]) -> list[Policy]:
    """The policies with the telecom's changed, as a new version (a published one is immutable)."""

    def new_version(p: Policy) -> Policy:
        p = change(p)
        return p.model_copy(
            update={"policy": p.policy.model_copy(update={"version": p.version + "-changed"})}
        )

    return [new_version(p) if p is telecom(policies) else p for p in policies]


def with_regions(policy: Policy) -> Policy:
    assert policy.web is not None
    return policy.model_copy(update={"web": policy.web.model_copy(update={"consent_mode": REGIONS})})


def with_russian(*, every_category: bool) -> Callable[[Policy], Policy]:
    def change(policy: Policy) -> Policy:
        cats = [
            c.model_copy(
                update={
                    "title": Text.model_validate({**c.title.texts(), "ru": f"Категория {c.id}"}),
                    "description": Text.model_validate({**c.description.texts(), "ru": f"Описание {c.id}"}),
                }
            )
            if every_category or i == 0
            else c
            for i, c in enumerate(policy.cookie_categories)
        ]
        return policy.model_copy(update={"cookie_categories": cats})

    return change


@pytest.fixture
def site(db_url: str, example_policies: list[Policy], clock: FixedClock) -> Callable[..., TestClient]:
    """A client of an app whose telecom policy is changed by `change`."""
    made: list[tuple[Container, TestClient]] = []

    def make(change: Callable[[Policy], Policy]) -> TestClient:
        policies = changed(example_policies, change)
        container = build(Settings(database_url=db_url, demo=True), clock=clock, policies=policies)
        client = TestClient(create_app(container))
        made.append((container, client.__enter__()))
        return client

    yield make  # type: ignore[misc]
    for container, client in made:
        client.__exit__(None, None, None)
        container.close()


@pytest.fixture
def regions(site: Callable[..., TestClient]) -> Iterator[TestClient]:
    yield site(with_regions)


def preset(body: str) -> dict[str, Any]:
    [found] = PRESET.findall(body)
    value: dict[str, Any] = json.loads(found)
    return value


def test_the_banner_script_as_served_stays_under_12_kb(client: TestClient, regions: TestClient) -> None:
    static = client.get("/static/sargs-consent.js")
    assert static.status_code == 200 and "javascript" in static.headers["content-type"]
    assert len(static.content) < LIMIT, len(static.content)
    # A website's own copy, with five regions in its defaults, still fits.
    own = regions.get("/api/v1/web/sargs-consent.js", params={"controller": "lmt"})
    assert own.status_code == 200 and len(own.content) < LIMIT, len(own.content)
    assert len(preset(own.text)["regions"]) == 2


def test_a_websites_script_is_the_static_one_with_its_consent_mode_built_in(
    client: TestClient, regions: TestClient
) -> None:
    static = client.get("/static/sargs-consent.js").text
    assert "/*sargs:consent-mode*/null;" in static  # the static script fetches the settings instead
    own = regions.get("/api/v1/web/sargs-consent.js", params={"controller": "lmt"})
    assert own.headers["content-type"] == "text/javascript; charset=utf-8"
    assert own.headers["cache-control"] == "public, max-age=300"
    assert preset(own.text) == {
        "controller": "lmt",
        "wait_for_update_ms": 800,
        "regions": [
            {"region": ["US-CA", "US-CO", "US-CT", "US-UT", "US-VA"], "granted": ["analytics_storage"]},
            {"region": ["GB"], "granted": ["functionality_storage", "security_storage"]},
        ],
    }
    # The same settings the categories endpoint gives the static script, and nothing else changed.
    api = regions.get("/api/v1/web/cookie-categories", params={"controller": "lmt"}).json()
    assert {k: v for k, v in preset(own.text).items() if k != "controller"} == api["consent_mode"]
    assert PRESET.sub("null;\n", own.text) == static.replace("/*sargs:consent-mode*/null;", "null;")
    # Without regions: the defaults of every policy.
    plain = client.get("/api/v1/web/sargs-consent.js", params={"controller": "lytagra-lv"})
    assert preset(plain.text) == {"controller": "lytagra-lv", "wait_for_update_ms": 500, "regions": []}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"controller": "nobody"}, "unknown controller 'nobody' (known: "),
        ({}, "controller: Field required"),
        ({"controller": "x" * 65}, "controller: String should have at most 64 characters"),
    ],
)
def test_a_script_for_a_website_sargs_does_not_know_is_a_clear_422(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    r = client.get("/api/v1/web/sargs-consent.js", params=params)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith(message), r.text


def test_a_script_for_a_website_without_cookie_categories_is_refused(site: Callable[..., TestClient]) -> None:
    bare = site(lambda p: p.model_copy(update={"cookie_categories": []}))
    r = bare.get("/api/v1/web/sargs-consent.js", params={"controller": "lmt"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "the policy of 'lmt' declares no cookie categories"


@pytest.mark.parametrize(
    ("page", "language"),
    [
        ("lv", "lv"),
        ("lv-LV", "lv"),
        ("en-GB", "en"),
        ("EN_us", "en"),
        ("ru", "lv"),  # the catalogue speaks Russian, the telecom's policy does not: its default
        ("de", "lv"),  # neither does
        (None, "lv"),  # a page that says nothing
    ],
)
def test_the_banner_language_is_the_pages_when_banner_and_policy_both_give_it(
    client: TestClient, page: str | None, language: str
) -> None:
    params = {"controller": "lmt", **({"lang": page} if page else {})}
    body = client.get("/api/v1/web/cookie-categories", params=params).json()
    assert body["language"] == language
    english = body["language"] == "en"
    assert body["text"]["accept_all"] == ("Allow all" if english else "Atļaut visas")


def test_a_policy_that_gives_russian_for_every_category_gets_a_russian_banner(
    site: Callable[..., TestClient],
) -> None:
    russian = site(with_russian(every_category=True))
    body = russian.get("/api/v1/web/cookie-categories", params={"controller": "lmt", "lang": "ru-LV"}).json()
    assert body["language"] == "ru" and body["text"]["accept_all"] == "Разрешить все"
    assert [c["title"] for c in body["categories"]] == [
        "Категория functional",
        "Категория analytics",
        "Категория marketing",
    ]
    # A choice made in that banner is kept with its language.
    r = russian.post(
        "/api/v1/web/cookie-consents",
        json={"visitor_id": "v" * 24, "controller": "lmt", "accepted": [], "language": "ru"},
    )
    assert r.status_code == 201, r.text


def test_one_category_without_russian_keeps_the_whole_banner_in_the_default_language(
    example_policies: list[Policy],
) -> None:
    policy = with_russian(every_category=False)(telecom(example_policies))
    assert banner_language(policy, "ru") == "lv"
    assert banner_language(with_russian(every_category=True)(policy), "ru") == "ru"
    # A default language the categories are not given in: the first language they are.
    german = policy.model_copy(update={"policy": policy.policy.model_copy(update={"default_language": "de"})})
    assert banner_language(german, "fr") == "lv"
