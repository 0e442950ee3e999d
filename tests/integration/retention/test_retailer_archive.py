"""The retailer's retention as its example policy declares it (R 2.4.1, R 2.5): ten years after the
last order the client data are destroyed, except the orders, which go to the state archive.
Runs on a SQLite file, or on PostgreSQL when SARGS_TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.retention.history import destruction_log
from sargs.domains.retention.plan import plan
from sargs.domains.retention.ports import RetentionConnector
from sargs.domains.retention.rules import SourceRules
from sargs.domains.retention.runs import run_retention
from sargs.entrypoints.container import Container
from sargs.integrations.sources.sql_retention import ANON_PREFIX
from tests.conftest import NOW
from tests.retention_sources import Shop

OLD = NOW - timedelta(days=365 * 10 + 40)  # more than ten years ago
YOUNG = NOW - timedelta(days=365 * 9)


@pytest.fixture
def as_declared(example_policies: list[Policy]) -> PolicyRegistry:
    """The example retailer exactly as shipped (the conftest's `registry` strips the exemption)."""
    return PolicyRegistry([p for p in example_policies if any(s.id == "shop" for s in p.data_sources)])


def test_ten_years_after_the_last_order_the_client_data_are_destroyed_and_the_orders_kept_for_the_archive(
    container: Container,
    as_declared: PolicyRegistry,
    connectors: Callable[[SourceRules], RetentionConnector],
    shop: Shop,
) -> None:
    (policy,) = as_declared.policies
    (ten_years,) = (r for r in policy.retention_rules if r.id == "service-ten-years")
    assert ten_years.archive_exemption is not True  # narrowed: not the whole rule (R 2.5)

    shop.customer(1, created_at=OLD)  # every order more than ten years old
    shop.customer(2, created_at=OLD)  # one order younger than ten years: still a client
    shop.customer(3, created_at=OLD)  # never ordered, joined eleven years ago
    shop.add(
        "orders",
        {"id": 10, "customer_id": 1, "placed_at": OLD, "delivery_name": "Customer 1"},
        {"id": 11, "customer_id": 1, "placed_at": OLD - timedelta(days=300), "delivery_name": "Customer 1"},
        {"id": 20, "customer_id": 2, "placed_at": YOUNG, "delivery_name": "Customer 2"},
    )
    shop.add(
        "loyalty_transactions",
        {"id": 30, "customer_id": 3, "occurred_at": OLD, "card_number": "L30"},
        {"id": 31, "customer_id": 2, "occurred_at": OLD, "card_number": "L31"},
        {"id": 32, "customer_id": 2, "occurred_at": YOUNG, "card_number": "L32"},
    )

    def planned() -> dict[str, tuple[int, int, int]]:
        with container.read_sessions.begin() as session:
            (found,) = plan(
                session=session, registry=as_declared, connectors=connectors, now=NOW, source_id="shop"
            )
        assert found.error is None
        return {t.table: (t.counts.expired, t.counts.to_purge, t.counts.archive) for t in found.tables}

    # (expired, destroyed by a run, kept for the state archive)
    before = planned()
    assert before["orders"] == (2, 0, 2)
    assert before["loyalty_transactions"] == (2, 2, 0)
    assert before["customers"] == (2, 2, 0)  # 1 and 3; 2 has a young order

    report = run_retention(
        sessions=container.sessions,
        registry=as_declared,
        connectors=connectors,
        clock=container.clock.now,
        policy_id=policy.id,
        source_id="shop",
        started_by="test",
        batch_size=1,
    )
    assert report.status == "finished"
    assert report.counts == {"loyalty_transactions": {"deleted": 2}, "customers": {"anonymised": 2}}
    assert shop.ids("orders") == [10, 11, 20]  # the archive's
    assert shop.ids("loyalty_transactions") == [32]
    for cid in (1, 3):  # destroyed: every personal field overwritten or emptied
        row = shop.row("customers", cid)
        assert row["full_name"] == f"{ANON_PREFIX}{cid}" and row["email"] == f"{ANON_PREFIX}{cid}"
        assert row["phone"] is None and row["address"] is None
    assert shop.row("customers", 2)["full_name"] == "Customer 2"
    with container.read_sessions.begin() as session:
        tables = {e.table_name for e in destruction_log(session=session)}
    assert tables == {"loyalty_transactions", "customers"}  # nothing logged as destroyed from orders

    after = planned()
    assert after["orders"] == (2, 0, 2)  # still waiting for the archive, never destroyed
    assert after["loyalty_transactions"] == (0, 0, 0)
    assert after["customers"][1] == 0  # anonymised once
