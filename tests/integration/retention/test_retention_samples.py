"""Retention on the demo's sample databases (the `sources` builders): the plan finds what the samples
made old, a run on the telecom loyalty source removes exactly what the plan said, and the retailer's
ten-year rows are reported for the state archive and kept."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sargs.core.db import make_engine
from sargs.domains.retention.plan import plan
from sargs.domains.retention.rules import SourceRules
from sargs.domains.retention.runs import run_retention
from sargs.entrypoints.container import Container
from sargs.integrations.sources.samples import create_loyalty, create_shop
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from tests.conftest import NOW


def test_the_sample_sources_plan_and_run_as_the_demo_shows_them(container: Container, tmp_path: Path) -> None:
    urls = {"shop": f"sqlite:///{tmp_path / 'shop.db'}", "loyalty": f"sqlite:///{tmp_path / 'loyalty.db'}"}
    create_shop(urls["shop"], people=300, now=NOW, known=[])
    create_loyalty(urls["loyalty"], people=300, now=NOW, known=[])
    engines = {k: make_engine(u) for k, u in urls.items()}

    def connectors(rules: SourceRules) -> SqlRetentionConnector:
        return SqlRetentionConnector(rules, engines[rules.source.id])

    def plans() -> dict[str, dict[str, tuple[int, int, int]]]:
        with container.read_sessions.begin() as session:
            found = plan(session=session, registry=container.registry, connectors=connectors, now=NOW)
        return {
            p.source_id: {t.table: (t.counts.expired, t.counts.to_purge, t.counts.archive) for t in p.tables}
            for p in found
        }

    before = plans()
    assert before["loyalty"]["transactions"][1] > 0 and before["loyalty"]["members"][1] > 0
    assert before["shop"]["orders"][0] > 0 and before["shop"]["orders"][0] == before["shop"]["orders"][2]
    assert before["shop"]["orders"][1] == 0  # R 2.5: to the state archive, not destroyed

    with engines["loyalty"].connect() as conn:
        rows_before = conn.execute(sa.text("select count(*) from transactions")).scalar_one()
    report = run_retention(
        sessions=container.sessions,
        registry=container.registry,
        connectors=connectors,
        clock=container.clock.now,
        policy_id="lmt-group",
        source_id="loyalty",
        started_by="test",
        batch_size=100,
    )
    expected = before["loyalty"]["transactions"][1] + before["loyalty"]["members"][1]
    assert report.status == "finished" and report.rows_removed == expected
    with engines["loyalty"].connect() as conn:
        rows_after = conn.execute(sa.text("select count(*) from transactions")).scalar_one()
    assert rows_before - rows_after == before["loyalty"]["transactions"][1]
    after = plans()
    assert after["loyalty"] == {"transactions": (0, 0, 0), "members": (0, 0, 0)}
    assert after["shop"] == before["shop"]
    for engine in engines.values():
        engine.dispose()
