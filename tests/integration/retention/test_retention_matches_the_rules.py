"""The SQL connector against the rules' own statement of them: a random shop (dates around the
ten-year cutoff, some exactly on it; holds; withdrawn marketing consents) is planned and run, and
every count and every surviving row must be what `rules.decide` says for that row."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Duration, Policy
from sargs.domains.retention.holds import add_hold
from sargs.domains.retention.plan import plan
from sargs.domains.retention.ports import RetentionConnector
from sargs.domains.retention.rules import RowFacts, SourceRules, cutoff, decide, source_rules
from sargs.domains.retention.runs import run_retention
from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.integration.retention.conftest import retailer
from tests.integration.retention.test_retention_sql import _withdraw
from tests.retention_sources import Shop

CUT = cutoff(Duration(years=10), NOW)


def around(rng: random.Random) -> datetime:
    if rng.random() < 0.1:
        return CUT  # exactly on the cutoff: expired
    return CUT + timedelta(days=rng.randint(-400, 400), seconds=rng.randint(-5, 5))


@pytest.mark.parametrize("archive", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_row_meets_the_fate_the_rules_give_it(
    seed: int,
    archive: bool,
    container: Container,
    example_policies: list[Policy],
    connectors: Callable[[SourceRules], RetentionConnector],
    shop: Shop,
) -> None:
    rng = random.Random(seed)
    policy = retailer(example_policies, archive=archive)
    registry = PolicyRegistry([policy])
    customers = {i: around(rng) for i in range(1, 41)}
    orders = {o: (rng.choice(list(customers)), around(rng)) for o in range(1, 61)}
    loyalty = {x: (rng.choice(list(customers)), around(rng)) for x in range(1, 61)}
    events = {e: rng.choice(list(customers)) for e in range(1, 41)}
    held = set(rng.sample(list(customers), 5))
    withdrawn = set(rng.sample(list(customers), 8))
    for cid, created in customers.items():
        shop.customer(cid, created_at=created)
    shop.add("orders", *({"id": o, "customer_id": c, "placed_at": at} for o, (c, at) in orders.items()))
    shop.add(
        "loyalty_transactions",
        *({"id": x, "customer_id": c, "occurred_at": at} for x, (c, at) in loyalty.items()),
    )
    shop.add(
        "email_events", *({"id": e, "customer_id": c, "email": f"c{c}@example.lv"} for e, c in events.items())
    )
    with container.sessions.begin() as session:
        for cid in held:
            add_hold(
                session=session,
                registry=registry,
                reason="random hold",
                created_by="t",
                now=NOW,
                identity=Identity("customer", f"C-{cid}"),
            )
    for cid in withdrawn:
        _withdraw(container, f"c{cid}@example.lv")

    rules = source_rules(policy=policy, source=policy.data_sources[0], now=NOW)
    rule = "service-ten-years"

    def fate(table: str, facts: RowFacts) -> str:
        tr = rules.table(table)
        assert tr is not None
        return decide(tr, facts)

    def newest(cid: int) -> datetime:
        return max([customers[cid], *(at for c, at in orders.values() if c == cid)])

    expected = {
        "customers": {
            c: fate("customers", RowFacts(anchors={rule: newest(c)}, held=c in held)) for c in customers
        },
        "orders": {
            o: fate("orders", RowFacts(anchors={rule: at}, held=c in held)) for o, (c, at) in orders.items()
        },
        "loyalty_transactions": {
            x: fate("loyalty_transactions", RowFacts(anchors={rule: at}, held=c in held))
            for x, (c, at) in loyalty.items()
        },
        "email_events": {
            e: fate(
                "email_events",
                RowFacts(withdrawn={"direct-marketing": NOW} if c in withdrawn else {}, held=c in held),
            )
            for e, c in events.items()
        },
    }
    # The draw must exercise every fate this policy can give, or the comparison proves little.
    all_fates = {f for fates in expected.values() for f in fates.values()}
    assert {"keep", "held", "archive" if archive else "purge"} <= all_fates
    with container.read_sessions.begin() as session:
        (planned,) = plan(
            session=session,
            registry=registry,
            connectors=connectors,
            now=NOW,
            policy_id=policy.id,
            source_id="shop",
        )
    for t in planned.tables:
        fates = list(expected[t.table].values())
        got = (t.counts.expired, t.counts.held, t.counts.archive, t.counts.to_purge)
        want = (
            sum(f != "keep" for f in fates),
            fates.count("held"),
            fates.count("archive"),
            fates.count("purge"),
        )
        assert got == want, (t.table, got, want)

    report = run_retention(
        sessions=container.sessions,
        registry=registry,
        connectors=connectors,
        clock=container.clock.now,
        policy_id=policy.id,
        source_id="shop",
        started_by="t",
        batch_size=7,
    )
    assert report.rows_removed == planned.to_purge
    for table in ("orders", "loyalty_transactions", "email_events"):
        assert shop.ids(table) == sorted(k for k, f in expected[table].items() if f != "purge"), table
    for cid, f in expected["customers"].items():
        assert (shop.row("customers", cid)["full_name"] == f"anonymised-{cid}") == (f == "purge"), cid
