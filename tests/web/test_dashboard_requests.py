"""The dashboard's rights-request panel: volumes by kind per month, answers on time or late, open
and overdue requests, only for the viewer's companies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.reports.requests import request_figures
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.web_helpers import console_login

D = timedelta(days=1)


def _request(n: int, controller: str, kind: str, received: datetime, closed: datetime | None) -> DsrRequest:
    return DsrRequest(
        id=f"r{n:03d}",
        controller=controller,
        kind=kind,
        channel="in_person",
        status="fulfilled" if closed else "verified",
        received_at=received,
        first_due_at=received + 30 * D,
        due_at=received + 30 * D,
        closed_at=closed,
    )


def _seed(container: Container) -> None:
    rows = [
        _request(1, "lmt", "access", NOW - 100 * D, NOW - 80 * D),  # answered on time
        _request(2, "lmt", "erasure", NOW - 100 * D, NOW - 60 * D),  # answered late (40 days)
        _request(3, "lmt", "erasure", NOW - 40 * D, None),  # open, overdue
        _request(4, "lmt", "access", NOW - 25 * D, None),  # open, due within 7 days
        _request(5, "lytagra-lv", "portability", NOW - 10 * D, None),  # another group's company
        _request(6, "lmt", "access", NOW - 800 * D, NOW - 790 * D),  # outside the 12 months
    ]
    with container.sessions.begin() as session:
        session.add_all(rows)


def test_figures_count_volumes_deadline_performance_and_open_requests(container: Container) -> None:
    _seed(container)
    with container.sessions() as session:
        f = request_figures(session=session, controllers=["lmt"], since=NOW - 365 * D, now=NOW)
    month = f"{NOW - 100 * D:%Y-%m}"
    assert f.received["access"][month] == 1 and f.received["erasure"][month] == 1
    assert sum(f.on_time.values()) == 1 and sum(f.late.values()) == 1
    assert (f.open_total, f.open_overdue, f.open_due_soon) == (2, 1, 1)
    assert f.median_days == 30.0  # 20 and 40 days
    assert "portability" not in f.received  # lytagra-lv is out of scope


def test_the_dpo_sees_the_requests_panel_with_two_charts_and_the_overdue_link(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    _seed(container)
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("dpo", ["lmt"]))
        html = browser.get("/console/dashboard?lang=en").text
    assert 'id="panel-requests"' in html
    assert "2 open, 1 overdue, 1 due within 7 days." in html
    assert "2 answered in the last 12 months, 50% on time; median 30.0 days to answer." in html
    assert len(re.findall(r'id="chart-requests-(volume|deadlines)"', html)) == 2
    assert 'href="/console/dsr?view=overdue"' in html


def test_the_panel_counts_only_the_viewers_companies(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    _seed(container)
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("dpo", ["lytagra-lv"]))
        html = browser.get("/console/dashboard?lang=en").text
    assert "1 open, 0 overdue, 0 due within 7 days." in html
