"""Sign-in attempts per client address: portal code requests and console passwords are limited,
and refused (fail closed) while the shared rate limit store is unreachable."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.entrypoints.container import Container
from sargs.integrations.ratelimit import redis_rate_limits
from tests.conftest import FakeCodeSender
from tests.web_helpers import csrf_of

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    container.settings.signin_rate_limit_per_minute = 3
    with TestClient(create_app(container)) as c:
        yield c


def ask_code(browser: TestClient, identity: str) -> int:
    page = browser.get("/portal/signin?lang=en")
    return browser.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": identity}).status_code


def sign_in(browser: TestClient, email: str, password: str) -> int:
    page = browser.get("/console/login?lang=en")
    data = {"csrf": csrf_of(page.text), "email": email, "password": password}
    return browser.post("/console/login", data=data, follow_redirects=False).status_code


def test_one_address_asking_codes_for_many_numbers_is_stopped(
    browser: TestClient, codes: FakeCodeSender
) -> None:
    answers = [ask_code(browser, f"+3712900070{i}") for i in range(5)]
    assert answers == [200, 200, 200, 429, 429]


def test_one_address_guessing_passwords_across_accounts_is_stopped(
    browser: TestClient, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("operator")
    answers = [sign_in(browser, f"nobody{i}@example.lv", "wrong") for i in range(3)]
    assert answers == [401, 401, 401]
    assert sign_in(browser, email, password) == 429  # even the right password, until the minute is over


def test_sign_in_is_refused_while_the_rate_limit_store_is_unreachable(
    container: Container,
    browser: TestClient,
    codes: FakeCodeSender,
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    container.rate_limits = redis_rate_limits(DEAD_REDIS, key=b"k")
    email, password = staff_member("operator")
    assert ask_code(browser, "+37129000701") == 503
    assert codes.sent == []
    assert sign_in(browser, email, password) == 503


def test_cookie_choices_still_work_while_the_rate_limit_store_is_unreachable(
    container: Container, browser: TestClient
) -> None:
    container.rate_limits = redis_rate_limits(DEAD_REDIS, key=b"k")
    r = browser.get("/api/v1/web/cookie-categories", params={"controller": "lmt"})
    assert r.status_code == 200
