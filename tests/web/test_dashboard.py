"""The DPO dashboard and the record-of-processing page: panels with accessible SVG charts, clocks,
policy review status; downloads per controller; scope and roles respected."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.charts import bar_chart, coloured, line_chart, nice_max
from sargs.entrypoints.web.dashboard import PANELS, Panel, PanelContext, register_panel
from tests.conftest import NOW
from tests.web_helpers import console_login


def _seed(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    admin = auth("admin")
    for i, (purpose, action, channel) in enumerate(
        [
            ("offers", "grant", "sms"),
            ("offers", "grant", "portal"),
            ("email-tracking", "grant", "api"),
            ("offers", "withdraw", "sms"),
        ]
    ):
        phone = f"+3712900090{i if action == 'grant' else 0}"
        r = client.post(
            "/api/v1/consents",
            json={
                "controller": "lmt",
                "identity": f"msisdn:{phone}",
                "purpose": purpose,
                "action": action,
                "channel": channel,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/breaches",
        json={
            "controller": "lmt",
            "title": "Lost laptop",
            "nature": "A laptop with a customer export was lost.",
            "aware_at": (NOW - timedelta(hours=80)).isoformat(),
        },
        headers=admin,
    )
    assert r.status_code == 201


def _console(
    container: Container,
    staff_member: Callable[..., tuple[str, str]],
    role: str,
    controllers: list[str] | None = None,
) -> TestClient:
    browser = TestClient(create_app(container))
    console_login(browser, *staff_member(role, controllers))
    return browser


def test_the_dashboard_shows_consent_charts_open_breach_clocks_and_policy_reviews(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    container: Container,
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    _seed(client, auth)
    with _console(container, staff_member, "dpo") as browser:
        page = browser.get("/console/dashboard?lang=en")
    assert page.status_code == 200
    html = page.text
    for panel in ("breaches", "consents", "consent-rates", "policies"):
        assert f'id="{panel}"' in html
    svg = re.search(r'<svg class="chart"[^>]*id="chart-consents-time".*?</svg>', html, re.S)
    assert svg is not None and 'role="img"' in svg.group(0) and "<title id=" in svg.group(0)
    assert svg.group(0).count("<polyline") == 2  # offers and e-mail tracking
    assert "<details" in html and "The figures as a table" in html
    assert "Lost laptop" in html and 'class="clock overdue"' in html
    assert (
        "lmt-group" in html and "overdue by" in html
    )  # the telecom policy of 2021 is past its two-year review
    assert "style=" not in html and "<script>" not in html


def test_the_dashboard_keeps_to_the_viewers_companies_and_roles(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    container: Container,
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    _seed(client, auth)
    with _console(container, staff_member, "dpo", ["lytagra-lv"]) as browser:
        html = browser.get("/console/dashboard").text
        assert "Lost laptop" not in html and "lmt-group" not in html and "<polyline" not in html
        assert browser.get("/console/ropa/lmt").status_code == 403
    with _console(container, staff_member, "operator") as browser:
        assert browser.get("/console/dashboard").status_code == 403


def test_another_area_adds_its_panel_without_touching_these(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    def build(ctx: PanelContext) -> dict[str, Any]:
        return {"n": 7}

    register_panel(
        Panel(
            "test-extra",
            "report.read",
            "console/panels/policies.html",
            lambda ctx: {"policies": []},
            order=999,
        )
    )
    try:
        with _console(container, staff_member, "auditor") as browser:
            assert 'id="test-extra"' in browser.get("/console/dashboard").text
    finally:
        PANELS.pop("test-extra")
    assert build  # a panel is just a function of the context


def test_the_record_page_offers_every_controller_of_both_policies_and_processors(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with _console(container, staff_member, "auditor") as browser:
        page = browser.get("/console/ropa")
        assert page.status_code == 200
        for cid in container.registry.controller_ids:
            assert f"/console/ropa/{cid}?format=pdf" in page.text
        assert "TSC" in page.text
        pdf = browser.get("/console/ropa/lytagra-lv?format=pdf&lang=lv")
        assert (
            pdf.content.startswith(b"%PDF")
            and "record-of-processing-lytagra-lv-lv.pdf" in pdf.headers["content-disposition"]
        )
        html = browser.get("/console/ropa/lmt?format=html&lang=en")
        assert "Record of processing activities" in html.text and "/static/document.css" in html.text


def test_chart_geometry_scales_to_a_round_maximum_and_keeps_every_value() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 7, 10, 11, 240)] == [1, 1, 5, 10, 10, 20, 500]
    chart = line_chart(
        id="x", title="T", description="D", labels=["a", "b", "c"], series=coloured([("s", [0, 5, 10])])
    )
    assert chart.ticks[-1].label == "10" and chart.lines[0].points.split()[0].endswith(",220.0")
    assert chart.lines[0].points.split()[-1].endswith(",12.0")
    bars = bar_chart(
        id="y",
        title="T",
        description="D",
        labels=["sms", "portal"],
        series=coloured([("g", [3, 1]), ("w", [1, 0])]),
    )
    assert len(bars.bars) == 4 and bars.bars[0].label == "sms — g: 3" and not bars.empty


def test_the_dpo_tells_people_of_the_policy_version_from_the_dashboard_once(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    container: Container,
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    from sqlalchemy import func, select

    from sargs.domains.sms.model import SmsOutbox
    from tests.web_helpers import csrf_of

    _seed(client, auth)  # four LMT people, three with their own phone number
    with _console(container, staff_member, "dpo") as browser:
        page = browser.get("/console/dashboard?lang=en")
        assert 'action="/console/policies/lmt-group/notify"' in page.text
        for _ in range(2):
            r = browser.post(
                "/console/policies/lmt-group/notify",
                data={"csrf": csrf_of(page.text)},
                follow_redirects=False,
            )
            assert r.status_code == 303
        assert "3 people" in browser.get("/console/dashboard?lang=en").text
    with container.read_sessions.begin() as session:
        assert (
            session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.kind == "notice")) == 3
        )
    with _console(container, staff_member, "auditor") as browser:
        html = browser.get("/console/dashboard").text
        assert "/notify" not in html
