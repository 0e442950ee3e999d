"""The console's retention page (R-RET-2): a DPO sees plans for both example policies, runs one,
and finds the run and its batches in the destruction log; holds are added and released by form;
operators are refused; the page speaks Latvian and English."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.retention.rules import SourceRules
from sargs.entrypoints.container import Container
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from tests.conftest import NOW
from tests.helpers import run_tasks
from tests.retention_sources import Shop, loyalty_tables
from tests.web_helpers import console_csrf, console_login


@pytest.fixture
def sources(container: Container, tmp_path: Path) -> Iterator[dict[str, sa.Engine]]:
    engines = {
        "loyalty": sa.create_engine(f"sqlite:///{tmp_path / 'loyalty.db'}"),
        "shop": sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}"),
    }
    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(engines["loyalty"])
    with engines["loyalty"].begin() as conn:
        for i in range(1, 4):
            when = NOW - timedelta(days=1000 if i < 3 else 10)
            conn.execute(t["members"].insert(), {"id": i, "msisdn": f"+3712900{i:04d}", "joined_at": when})
            conn.execute(t["transactions"].insert(), {"id": i, "member_id": i, "finished_at": when})
    shop = Shop(engines["shop"])
    shop.customer(1, created_at=NOW - timedelta(days=4000))
    shop.add("orders", {"id": 1, "customer_id": 1, "placed_at": NOW - timedelta(days=4000)})

    def connectors(rules: SourceRules) -> SqlRetentionConnector:
        return SqlRetentionConnector(rules, engines[rules.source.id])

    container.retention_connectors = connectors
    yield engines
    for engine in engines.values():
        engine.dispose()


def test_a_dpo_sees_both_plans_runs_one_and_reads_the_destruction_log(
    container: Container, staff_member: Callable[..., tuple[str, str]], sources: dict[str, sa.Engine]
) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("dpo"))
        page = browser.get("/console/retention?lang=en")
        assert page.status_code == 200
        assert "lmt-group / loyalty" in page.text and "lytagra-group / shop" in page.text
        assert "For the state archive" in page.text  # the retailer's ten-year rule (R 2.5)
        # The shop's old customer is destroyed (anonymised); its old order is kept for the archive.
        assert (
            "A run destroys 1 row(s) (deletes or anonymises them); 1 are kept for the state archive"
            in page.text
        )
        assert 'href="/console/retention"' in page.text  # in the navigation
        csrf = console_csrf(browser)
        r = browser.post(
            "/console/retention/run",
            data={"csrf": csrf, "policy": "lmt-group", "source": "loyalty"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        queued = browser.get(r.headers["location"])
        assert 'data-task-status="queued"' in queued.text and "/console/retention/tasks/" in queued.text
        assert run_tasks(container) == 1
        after = browser.get(r.headers["location"])
        assert 'data-task-status="done"' in after.text
        assert "finished" in after.text and "loyalty-two-years" in after.text
        with sources["loyalty"].connect() as conn:
            assert conn.execute(sa.text("select id from members")).scalars().all() == [3]

        bad = browser.post(
            "/console/retention/holds", data={"csrf": csrf, "reason": "court case", "until": "soon"}
        )
        assert bad.status_code == 422 and "until" in bad.text
        added = browser.post(
            "/console/retention/holds",
            data={"csrf": csrf, "reason": "tax audit 2026", "target": "shop/orders"},
            follow_redirects=True,
        )
        assert "shop/orders" in added.text and "tax audit 2026" in added.text
        dashboard = browser.get("/console/dashboard?lang=en")
        assert dashboard.status_code == 200 and 'id="chart-retention-rules"' in dashboard.text
        assert "loyalty-two-years" in dashboard.text and "lmt-group/loyalty" in dashboard.text
        lv = browser.get("/console/retention?lang=lv")
        assert "Glabāšanas plāns" in lv.text and "Iznīcināšanas žurnāls" in lv.text


def test_operators_may_not_open_the_retention_page(
    container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator"))
        assert browser.get("/console/retention").status_code == 403
        assert 'href="/console/retention"' not in browser.get("/console/").text
