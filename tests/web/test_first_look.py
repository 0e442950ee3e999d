"""What a person sees first (issue 20, list 8): the start page at `/`, the favicon, and pages that
speak the page's language: the English rights-request page's headings, the channels on the Latvian
dashboard, and the error page a role is refused with."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.i18n import LANGUAGES, translator
from tests.web.test_dashboard import _console, _seed
from tests.web.test_dsr_console import file_in_console
from tests.web_helpers import console_login

Staff = Callable[..., tuple[str, str]]


def test_the_start_page_links_the_console_the_portal_the_api_docs_and_health(container: Container) -> None:
    with TestClient(create_app(container)) as browser:
        lv = browser.get("/")
        assert lv.status_code == 200 and lv.headers["content-type"].startswith("text/html")
        assert '<html lang="lv">' in lv.text and "<h1>Sargs — privātuma pārvaldība</h1>" in lv.text
        links = re.findall(r'href="([^"]+)"', lv.text)
        for target in ("/console/", "/portal/", "/docs", "/livez", "/readyz"):
            assert target in links, target
            assert browser.get(target).status_code == 200, target
        assert "Content-Security-Policy" in lv.headers
        en = browser.get("/?lang=en")
        assert '<html lang="en">' in en.text and "API documentation" in en.text
        assert "Darbinieku konsole" not in en.text
        assert '<html lang="en">' in browser.get("/").text  # the choice is remembered, as on every page


def test_the_favicon_is_served_as_an_icon_and_pages_link_the_svg(container: Container) -> None:
    with TestClient(create_app(container)) as browser:
        icon = browser.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
        assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
        svg = browser.get("/static/favicon.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert '<link rel="icon" href="/static/favicon.svg"' in browser.get("/console/login").text


def test_the_english_request_page_has_english_headings_not_raw_outcome_ids(
    container: Container, staff_member: Staff
) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("dpo"))
        rid = file_in_console(browser)
        en = browser.get(f"/console/dsr/{rid}?lang=en").text
        headings = re.findall(r"<h2>([^<]*)</h2>", en)
        assert "Refusal" in headings and "refused" not in headings
        assert all(h[:1].isupper() for h in headings), headings
        lv = browser.get(f"/console/dsr/{rid}?lang=lv").text
        assert "<h2>Atteikums</h2>" in lv


def test_the_latvian_dashboard_names_the_consent_channels_in_latvian(
    client: TestClient, auth: Callable[..., dict[str, str]], container: Container, staff_member: Staff
) -> None:
    _seed(client, auth)  # consents given by sms, portal and api
    with _console(container, staff_member, "dpo") as browser:
        lv = browser.get("/console/dashboard?lang=lv").text
        en = browser.get("/console/dashboard?lang=en").text
    chart = re.search(r'id="chart-consents-channel".*?</figure>', lv, re.S)
    assert chart is not None
    assert ">portāls<" in chart.group(0) and ">portal<" not in chart.group(0)
    assert ">portal<" in en


def test_every_consent_channel_has_a_name_in_both_languages() -> None:
    from sargs.domains.policy.schema import CONSENT_CHANNELS

    for lang in LANGUAGES:
        missing = [c for c in CONSENT_CHANNELS if f"consent_channel_{c}" not in translator(lang)]
        assert missing == [], (lang, missing)


def test_a_refused_role_is_told_so_in_the_pages_language(container: Container, staff_member: Staff) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator"))
        lv = browser.get("/console/dashboard?lang=lv")
        assert lv.status_code == 403
        assert 'data-code="forbidden">Jūsu lomai nav atļauts atvērt šo lapu vai to darīt.</p>' in lv.text
        assert '<span lang="en">role &#39;operator&#39; may not open this page' in lv.text
        en = browser.get("/console/dashboard?lang=en")
        assert en.status_code == 403 and "role &#39;operator&#39; may not open this page" in en.text
        assert "Jūsu lomai" not in en.text


def test_the_latvian_subject_page_names_channels_and_who_recorded_them(
    client: TestClient, auth: Callable[..., dict[str, str]], container: Container, staff_member: Staff
) -> None:
    phone = "+37129000777"
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s,
            identities=[Identity("msisdn", phone)],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
    r = client.post(
        "/api/v1/consents",
        json={
            "controller": "lmt",
            "identity": f"msisdn:{phone}",
            "purpose": "offers",
            "action": "grant",
            "channel": "staff",
        },
        headers=auth("admin"),
    )
    assert r.status_code == 201, r.text
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", ["lmt"]))
        lv = browser.get(f"/console/subjects/{subject_id}?lang=lv").text
        en = browser.get(f"/console/subjects/{subject_id}?lang=en").text
    assert "<td>darbinieks (klātienē)</td>" in lv and "<td>API klients</td>" in lv
    assert "<td>staff</td>" not in lv and "<td>token</td>" not in lv
    assert "<td>staff (in person)</td>" in en and "<td>API client</td>" in en
