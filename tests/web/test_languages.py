"""Pages in every language of the catalogues: Russian with ?lang=ru (remembered in the cookie),
Accept-Language when nothing was chosen, a switcher that names each language in its own words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.entrypoints.container import Container
from tests.web_helpers import console_login

LATIN_ONLY = re.compile(r"[A-Za-z]{4,}")


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_portal_renders_in_russian_with_lang_ru(browser: TestClient) -> None:
    page = browser.get("/portal/signin?lang=ru")
    assert page.status_code == 200
    assert (
        'lang="ru"' in page.text
        and "Отправить мне код" in page.text
        and "Моя конфиденциальность" in page.text
    )
    assert "Send me a code" not in page.text and "Sūtīt" not in page.text
    # The choice is remembered: the next page, without ?lang, is Russian too.
    assert browser.cookies.get("sargs_lang") == "ru"
    assert 'lang="ru"' in browser.get("/console/login").text


@pytest.mark.parametrize(
    ("start", "signin"), [("/portal/", "/portal/signin"), ("/console/", "/console/login")]
)
def test_lang_ru_survives_the_redirect_to_sign_in(browser: TestClient, start: str, signin: str) -> None:
    sent = browser.get(f"{start}?lang=ru", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"{signin}?lang=ru"
    assert 'lang="ru"' in browser.get(sent.headers["location"]).text
    assert browser.get(f"{start}?lang=xx", follow_redirects=False).headers["location"] == signin


def test_the_console_renders_in_russian_after_sign_in(
    browser: TestClient, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("operator", controllers=["lmt"])
    login = browser.get("/console/login?lang=ru")
    assert "Войти" in login.text and "Пароль" in login.text
    console_login(browser, email, password)
    home = browser.get("/console/")
    assert home.status_code == 200 and 'lang="ru"' in home.text
    text = visible_text(home.text)
    assert "Найти человека" in text and "Выйти" in text
    assert "Find a person" not in text and "Atrast" not in text


def test_the_switcher_offers_every_other_language_in_its_own_name(browser: TestClient) -> None:
    page = browser.get("/portal/signin?lang=ru").text
    assert 'hreflang="lv" lang="lv">Latviešu</a>' in page and 'hreflang="en" lang="en">English</a>' in page
    assert 'hreflang="ru"' not in page


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("de-DE, en;q=0.5", "en"),
        ("de, fr", "lv"),
        ("en;q=0.2, ru;q=0.7", "ru"),
    ],
)
def test_accept_language_picks_the_page_language_when_nothing_was_chosen(
    browser: TestClient, header: str, lang: str
) -> None:
    assert f'lang="{lang}"' in browser.get("/portal/signin", headers={"Accept-Language": header}).text


def test_the_query_and_the_cookie_win_over_accept_language(browser: TestClient) -> None:
    assert 'lang="en"' in browser.get("/portal/signin?lang=en", headers={"Accept-Language": "ru"}).text
    assert 'lang="en"' in browser.get("/portal/signin", headers={"Accept-Language": "ru"}).text  # the cookie


def test_an_unknown_lang_is_ignored(browser: TestClient) -> None:
    page = browser.get("/portal/signin?lang=xx")
    assert (
        page.status_code == 200
        and 'lang="lv"' in page.text
        and "sargs_lang" not in page.headers.get("set-cookie", "")
    )
