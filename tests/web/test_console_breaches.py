"""The breach pages of the console: register through the form, see the clock, assess, file, download."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from pypdf import PdfReader

from sargs.bootstrap import create_app
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.web_helpers import console_csrf, console_login

FORM = {
    "controller": "lmt",
    "title": "Klientu saraksts nosūtīts nepareizam adresātam",
    "nature": "Saraksts ar 40 klientu tālruņa numuriem nosūtīts ārējam partnerim.",
    "aware_at": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    "data_categories": ["identification", "contact"],
    "subject_categories": ["own"],
    "approx_subjects": "40",
    "consequences": "Nevēlami zvani.",
    "measures": "Partneris dzēsa sarakstu.",
    "affected_tables": ["loyalty.members"],
}


def _browser(container: Container, staff_member: Callable[..., tuple[str, str]], role: str) -> TestClient:
    browser = TestClient(create_app(container))
    console_login(browser, *staff_member(role))
    return browser


def _register(browser: TestClient, **over: object) -> str:
    r = browser.post(
        "/console/breaches", data={**FORM, **over, "csrf": console_csrf(browser)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).rsplit("/", 1)[1]


def test_dpo_registers_a_breach_and_sees_its_clock_on_the_list_and_the_page(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        form = browser.get("/console/breaches/new?controller=lmt")
        assert form.status_code == 200 and 'name="data_categories" value="contact"' in form.text
        breach_id = _register(browser)
        page = browser.get("/console/breaches")
        assert "Klientu saraksts nosūtīts" in page.text
        assert re.search(
            r'role="timer" data-deadline="2026-11-26T08:00:00\+00:00"[^>]*>70 h 00 min<', page.text
        )
        assert '<script src="/static/breach-clock.js" defer></script>' in page.text
        detail = browser.get(f"/console/breaches/{breach_id}")
        assert "Nevēlami zvani." in detail.text and 'action="/console/breaches/' in detail.text


def test_an_overdue_clock_reads_overdue_by_in_the_pages_language(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    aware = (NOW - timedelta(hours=72 + 246, minutes=40)).strftime("%Y-%m-%dT%H:%M")
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser, aware_at=aware)
        for path in ("/console/breaches", f"/console/breaches/{breach_id}", "/console/dashboard"):
            lv = browser.get(path + "?lang=lv").text
            assert re.search(r'data-overdue-by="nokavēts par \{span\}">nokavēts par 246 h<', lv), path
            en = browser.get(path + "?lang=en").text
            assert re.search(r'data-overdue-by="overdue by \{span\}">overdue by 246 h<', en), path
            assert "-246" not in lv + en


def test_a_bad_form_comes_back_with_the_error_and_what_was_typed(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        r = browser.post(
            "/console/breaches",
            data={**FORM, "approx_subjects": "daudz", "csrf": console_csrf(browser)},
            follow_redirects=False,
        )
        assert r.status_code == 422
        assert 'data-field="approx_subjects"' in r.text and "Saraksts ar 40 klientu" in r.text
        r = browser.post(
            "/console/breaches",
            data={
                **FORM,
                "aware_at": (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
                "csrf": console_csrf(browser),
            },
        )
        assert r.status_code == 422 and 'data-field="aware_at"' in r.text
        assert "Klientu saraksts" not in browser.get("/console/breaches").text


def test_assess_file_and_download_the_notification_before_the_clock_runs_out(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser)
        csrf = console_csrf(browser)
        r = browser.post(
            f"/console/breaches/{breach_id}/assess",
            data={"csrf": csrf, "risk": "risk", "reasoning": "Tālruņa numuri var tikt izmantoti krāpšanai."},
            follow_redirects=False,
        )
        assert r.status_code == 303
        pdf = browser.get(f"/console/breaches/{breach_id}/notification?format=pdf&lang=lv")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split())
        assert (
            "Paziņojums par personas datu aizsardzības pārkāpumu" in text
            and "Latvijas Mobilais Telefons SIA" in text
        )
        html = browser.get(f"/console/breaches/{breach_id}/notification?format=html&lang=en")
        assert "document.css" in html.text and "<style>" not in html.text
        assert "Notification of a personal data breach" in html.text
        r = browser.post(
            f"/console/breaches/{breach_id}/notify",
            data={
                "csrf": csrf,
                "phase": "initial",
                "filed_at": NOW.strftime("%Y-%m-%dT%H:%M"),
                "authority_reference": "DVI-7",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        detail = browser.get(f"/console/breaches/{breach_id}")
        assert "DVI-7" in detail.text and "ziņots laikā" in detail.text


def test_a_refused_step_is_shown_on_the_page_not_half_done(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser)
        r = browser.post(f"/console/breaches/{breach_id}/close", data={"csrf": console_csrf(browser)})
        assert r.status_code == 422 and 'role="alert"' in r.text
        assert "atvērts" in browser.get(f"/console/breaches/{breach_id}").text


def test_auditor_reads_without_forms_and_operator_is_refused(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser)
    with _browser(container, staff_member, "auditor") as browser:
        page = browser.get(f"/console/breaches/{breach_id}")
        assert page.status_code == 200 and "/assess" not in page.text
        assert browser.get("/console/breaches/new").status_code == 403
    with _browser(container, staff_member, "operator") as browser:
        assert browser.get("/console/breaches").status_code == 403
        assert browser.get(f"/console/breaches/{breach_id}/notification").status_code == 403


def test_the_record_is_corrected_through_the_form_and_the_trail_keeps_the_old_value(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser)
        form = browser.get(f"/console/breaches/{breach_id}/edit")
        assert form.status_code == 200 and "Saraksts ar 40 klientu" in form.text
        assert f'action="/console/breaches/{breach_id}/edit"' in form.text
        data = {**FORM, "approx_subjects": "45", "csrf": console_csrf(browser)}
        data.pop("controller")
        r = browser.post(f"/console/breaches/{breach_id}/edit", data=data, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = browser.get(f"/console/breaches/{breach_id}").text
        assert "<dd>45</dd>" in page
        assert '{"approx_subjects": {"from": 40, "to": 45}}' in page
        bad = browser.post(
            f"/console/breaches/{breach_id}/edit",
            data={**data, "subject_categories": ["vip"]},
            follow_redirects=False,
        )
        assert bad.status_code == 422 and 'data-field="subject_categories"' in bad.text


def test_hostile_text_in_a_breach_is_shown_as_text_everywhere(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"'
    with _browser(container, staff_member, "dpo") as browser:
        breach_id = _register(browser, title=hostile[:60], nature=hostile, measures=hostile)
        for path in ("/console/breaches", f"/console/breaches/{breach_id}", "/console/dashboard"):
            html = browser.get(path).text
            assert "<script>alert" not in html and "<img src=x" not in html, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        printable = browser.get(f"/console/breaches/{breach_id}/notification?format=html").text
        assert "<script>alert" not in printable and "&lt;img src=x onerror=alert(2)&gt;" in printable
        pdf = browser.get(f"/console/breaches/{breach_id}/notification?format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
