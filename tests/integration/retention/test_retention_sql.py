"""Retention on a real source database (R-RET-1, R-RET-2): plans count what expired at the boundary,
latest_of keeps a customer while any order is young, consent withdrawal expires marketing data,
holds and the archive exemption keep rows, anonymisation happens once, a run that crashes resumes
without losing or repeating a batch, and two runs never work on one source at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Duration, Policy
from sargs.domains.retention.history import destruction_log, retention_overview
from sargs.domains.retention.holds import add_hold, list_holds, release_hold
from sargs.domains.retention.model import DestructionLogEntry, RetentionLease, RetentionRun
from sargs.domains.retention.plan import SourcePlan, plan
from sargs.domains.retention.ports import RetentionConnector
from sargs.domains.retention.rules import SourceRules, cutoff
from sargs.domains.retention.runs import Progress, run_retention
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import get_or_create_subject
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.integration.retention.conftest import retailer
from tests.retention_sources import Shop

Connectors = Callable[[SourceRules], RetentionConnector]
TEN_YEARS = cutoff(Duration(years=10), NOW)
OLD = NOW - timedelta(days=365 * 11)
YOUNG = NOW - timedelta(days=365)


def shop_plan(container: Container, registry: PolicyRegistry, connectors: Connectors) -> dict[str, Any]:
    with container.read_sessions.begin() as session:
        plans = plan(
            session=session,
            registry=registry,
            connectors=connectors,
            now=NOW,
            policy_id="lytagra-group",
            source_id="shop",
        )
    assert len(plans) == 1 and plans[0].error is None, plans
    return {t.table: t.counts for t in plans[0].tables}


def run(container: Container, registry: PolicyRegistry, connectors: Connectors, **kwargs: Any) -> Any:
    return run_retention(
        sessions=container.sessions,
        registry=registry,
        connectors=connectors,
        clock=container.clock.now,
        policy_id=kwargs.pop("policy_id", "lytagra-group"),
        source_id=kwargs.pop("source_id", "shop"),
        started_by="test",
        **kwargs,
    )


def logged(container: Container) -> list[DestructionLogEntry]:
    with container.read_sessions.begin() as session:
        return list(reversed(destruction_log(session=session)))


def test_a_row_exactly_at_the_cutoff_has_expired_and_one_a_second_younger_has_not(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add(
        "loyalty_transactions",
        {"id": 1, "customer_id": 1, "occurred_at": TEN_YEARS, "card_number": "L1"},
        {"id": 2, "customer_id": 1, "occurred_at": TEN_YEARS + timedelta(seconds=1), "card_number": "L2"},
        {"id": 3, "customer_id": 1, "occurred_at": TEN_YEARS - timedelta(days=1), "card_number": "L3"},
    )
    counts = shop_plan(container, registry, connectors)
    assert counts["loyalty_transactions"].expired == 2
    assert counts["loyalty_transactions"].to_purge == 2
    assert counts["customers"].expired == 0

    report = run(container, registry, connectors)
    assert report.status == "finished"
    assert shop.ids("loyalty_transactions") == [2]
    assert report.counts == {"loyalty_transactions": {"deleted": 2}}


def test_a_customer_is_kept_while_any_order_is_young_and_purged_after_the_last_one(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    for cid in (1, 2, 3, 4):
        shop.customer(cid, created_at=OLD if cid != 4 else YOUNG)
    shop.add(
        "orders",
        {"id": 10, "customer_id": 1, "placed_at": OLD},
        {"id": 11, "customer_id": 1, "placed_at": YOUNG},  # 1: one young order keeps the customer
        {"id": 20, "customer_id": 2, "placed_at": OLD},  # 2: every order old: expired
        {"id": 21, "customer_id": 2, "placed_at": OLD - timedelta(days=30)},
    )
    # 3: no orders, created eleven years ago: expired by date_column; 4: no orders, young: kept
    counts = shop_plan(container, registry, connectors)
    assert counts["orders"].expired == 3
    # Customers are anonymised (the shop declares erasure: anonymise), so their children do not block.
    assert counts["customers"].expired == 2 and counts["customers"].to_purge == 2

    run(container, registry, connectors)
    assert shop.ids("orders") == [11]
    assert shop.ids("customers") == [1, 2, 3, 4]
    assert shop.row("customers", 1)["full_name"] == "Customer 1"
    gone = shop.row("customers", 2)
    assert gone["full_name"] == "anonymised-2" and gone["email"] == "anonymised-2"
    assert gone["phone"] is None and gone["address"] is None  # set_null fields
    assert shop.row("customers", 4)["email"] == "c4@example.lv"
    # Anonymised rows hold nothing more to remove: the next plan finds nothing and a run does nothing.
    again = shop_plan(container, registry, connectors)
    assert again["customers"].expired == 2 and again["customers"].to_purge == 0
    assert run(container, registry, connectors).rows_removed == 0


def test_a_deleted_parent_waits_for_its_children_and_the_plan_says_it_is_blocked(
    container: Container, example_policies: list[Policy], connectors: Connectors, shop: Shop
) -> None:
    policy = retailer(example_policies)
    # The customer table deleted rather than anonymised: a parent with live children must stay.
    shop_source = next(s for s in policy.data_sources if s.id == "shop")
    tables = [
        t.model_copy(update={"erasure": "delete"}) if t.name == "customers" else t for t in shop_source.tables
    ]
    source = shop_source.model_copy(update={"tables": tables})
    registry = PolicyRegistry([policy.model_copy(update={"data_sources": [source]})])
    shop.customer(1, created_at=OLD)
    shop.customer(2, created_at=OLD)
    shop.add("orders", {"id": 10, "customer_id": 1, "placed_at": OLD})
    shop.add("loyalty_transactions", {"id": 5, "customer_id": 2, "occurred_at": YOUNG})
    counts = shop_plan(container, registry, connectors)
    assert counts["customers"].expired == 2
    assert counts["customers"].blocked == 1  # customer 2: a young loyalty transaction still points at it
    assert counts["customers"].to_purge == 1

    report = run(container, registry, connectors)
    assert report.counts == {"orders": {"deleted": 1}, "customers": {"deleted": 1}}
    assert shop.ids("customers") == [2]
    tables_in_order = [e.table_name for e in logged(container)]
    assert tables_in_order == ["orders", "customers"]  # children before parents


def _withdraw(container: Container, email: str, *, again: bool = False) -> None:
    with container.sessions.begin() as session:
        subject_id, _ = get_or_create_subject(
            session=session,
            identity=Identity("email", email),
            controller="lytagra-lv",
            default_group="client",
            now=NOW,
        )
        for action in ("grant", "withdraw", *(("grant",) if again else ())):
            record_consent(
                session=session,
                registry=container.registry,
                subject_id=subject_id,
                controller="lytagra-lv",
                purpose="direct-marketing",
                action=action,
                channel="portal",
                actor=Actor("subject", subject_id),
                now=NOW,
                occurred_at=NOW - timedelta(days=3),
            )


def test_marketing_data_expires_when_the_person_withdraws_consent_and_not_when_they_give_it_again(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    for cid in (1, 2, 3):
        shop.customer(cid, created_at=YOUNG)
    shop.add(
        "email_events",
        {"id": 1, "customer_id": 1, "email": "c1@example.lv", "kind": "open"},
        {"id": 2, "customer_id": 1, "email": "c1@example.lv", "kind": "click"},
        {"id": 3, "customer_id": 2, "email": "c2@example.lv", "kind": "open"},
        {"id": 4, "customer_id": 3, "email": "c3@example.lv", "kind": "open"},
    )
    _withdraw(container, "c1@example.lv")
    _withdraw(container, "c2@example.lv", again=True)
    counts = shop_plan(container, registry, connectors)
    assert counts["email_events"].expired == 2 and counts["email_events"].to_purge == 2
    run(container, registry, connectors)
    assert shop.ids("email_events") == [3, 4]
    assert shop.ids("customers") == [1, 2, 3]


def test_legal_holds_keep_a_persons_rows_and_a_tables_rows_until_released(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=OLD)
    shop.customer(2, created_at=OLD)
    shop.add(
        "orders",
        {"id": 10, "customer_id": 1, "placed_at": OLD},
        {"id": 20, "customer_id": 2, "placed_at": OLD},
    )
    shop.add("loyalty_transactions", {"id": 5, "customer_id": 2, "occurred_at": OLD})
    with container.sessions.begin() as session:
        person = add_hold(
            session=session,
            registry=registry,
            reason="court case 12/2026",
            created_by="dpo",
            now=NOW,
            identity=Identity("customer", "C-1"),
        )
        table = add_hold(
            session=session,
            registry=registry,
            reason="tax audit",
            created_by="dpo",
            now=NOW,
            source_id="shop",
            table="loyalty_transactions",
        )
    counts = shop_plan(container, registry, connectors)
    assert (counts["orders"].expired, counts["orders"].held, counts["orders"].to_purge) == (2, 1, 1)
    assert counts["loyalty_transactions"].held == 1 and counts["loyalty_transactions"].to_purge == 0
    assert counts["customers"].held == 1

    run(container, registry, connectors)
    assert shop.ids("orders") == [10]
    assert shop.ids("loyalty_transactions") == [5]
    assert shop.row("customers", 1)["full_name"] == "Customer 1"
    assert shop.row("customers", 2)["full_name"] == "anonymised-2"

    with container.sessions.begin() as session:
        listed = list_holds(session=session, now=NOW)
        assert {h.target for h in listed} == {"customer:C-***", "shop/loyalty_transactions"}
        release_hold(session=session, hold_id=person.id, released_by="dpo", now=NOW)
        release_hold(session=session, hold_id=table.id, released_by="dpo", now=NOW)
        with pytest.raises(Conflict):
            release_hold(session=session, hold_id=table.id, released_by="dpo", now=NOW)
    run(container, registry, connectors)
    assert shop.ids("orders") == [] and shop.ids("loyalty_transactions") == []


def test_a_hold_with_bad_input_is_refused_naming_the_field(
    container: Container, registry: PolicyRegistry
) -> None:
    cases = [
        ({"reason": "no", "identity": Identity("customer", "C-1")}, "reason"),
        ({"reason": "valid reason", "source_id": "shop", "table": "nope"}, "table"),
        ({"reason": "valid reason", "source_id": "nope", "table": "orders"}, "source"),
        ({"reason": "valid reason"}, "identity"),
        ({"reason": "valid reason", "identity": Identity("customer", "C-1"), "until": NOW}, "until"),
    ]
    for kwargs, field in cases:
        with container.sessions.begin() as session, pytest.raises(InvalidInput) as exc:
            add_hold(session=session, registry=registry, created_by="dpo", now=NOW, **kwargs)
        assert exc.value.details["field"] == field
    with container.read_sessions.begin() as session:
        assert list_holds(session=session, now=NOW, include_released=True) == []


def test_rows_under_an_archive_exempt_rule_are_reported_for_the_state_archive_and_kept(
    container: Container, example_policies: list[Policy], connectors: Connectors, shop: Shop
) -> None:
    registry = PolicyRegistry([retailer(example_policies, archive=True)])
    shop.customer(1, created_at=OLD)
    shop.add("orders", {"id": 10, "customer_id": 1, "placed_at": OLD})
    counts = shop_plan(container, registry, connectors)
    assert counts["orders"].expired == 1 and counts["orders"].archive == 1 and counts["orders"].to_purge == 0
    report = run(container, registry, connectors)
    assert report.rows_removed == 0
    assert shop.ids("orders") == [10]


def test_a_run_that_crashes_mid_way_resumes_without_losing_or_repeating_a_batch(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 24)))
    seen: list[Progress] = []

    def crash_after_three(p: Progress) -> None:
        seen.append(p)
        if len(seen) == 3:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        run(container, registry, connectors, batch_size=5, progress=crash_after_three)
    assert len(shop.ids("loyalty_transactions")) == 23 - 15
    with container.read_sessions.begin() as session:
        crashed = session.scalars(select(RetentionRun)).one()
        assert crashed.status == "failed" and crashed.rows_removed == 15
        assert session.scalar(select(func.count()).select_from(RetentionLease)) == 0

    report = run(container, registry, connectors, batch_size=5)
    assert report.resumed and report.id == crashed.id and report.status == "finished"
    assert report.rows_removed == 23 and report.counts == {"loyalty_transactions": {"deleted": 23}}
    assert shop.ids("loyalty_transactions") == []
    entries = logged(container)
    assert [e.status for e in entries] == ["done"] * 5
    assert sum(e.rows for e in entries) == 23
    assert [(e.key_first, e.key_last) for e in entries] == [
        ("1", "5"),
        ("6", "10"),
        ("11", "15"),
        ("16", "20"),
        ("21", "23"),
    ]
    assert {e.rules for e in entries} == {"service-ten-years"}


class CrashingConnector:
    """Wraps a real connector; its first purge dies before or after the source commits."""

    def __init__(self, inner: RetentionConnector, *, after_commit: bool) -> None:
        self.inner, self.after_commit = inner, after_commit

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def purge(self, *, table: str, first: Any, last: Any) -> int:
        if self.after_commit:
            self.inner.purge(table=table, first=first, last=last)
        raise ConnectionError("connection lost")


@pytest.mark.parametrize("after_commit", [True, False])
def test_a_batch_cut_off_around_the_source_commit_is_settled_by_the_next_run(
    after_commit: bool, container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 8)))
    with pytest.raises(ConnectionError):
        run(
            container,
            registry,
            lambda r: CrashingConnector(connectors(r), after_commit=after_commit),
            batch_size=4,
        )
    assert [e.status for e in logged(container)] == ["pending"]
    assert len(shop.ids("loyalty_transactions")) == (3 if after_commit else 7)

    report = run(container, registry, connectors, batch_size=4)
    assert report.rows_removed == 7 and shop.ids("loyalty_transactions") == []
    entries = logged(container)
    assert [(e.status, e.rows) for e in entries] == [("done", 4), ("done", 3)]


def test_max_rows_pauses_a_run_and_the_next_run_continues_it(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 11)))
    first = run(container, registry, connectors, batch_size=3, max_rows=4)
    assert first.status == "paused" and first.rows_removed == 4
    second = run(container, registry, connectors, batch_size=3)
    assert second.id == first.id and second.status == "finished" and second.rows_removed == 10
    third = run(container, registry, connectors)
    assert third.id != first.id and third.rows_removed == 0


def test_a_second_run_on_the_same_source_is_refused_while_the_first_holds_the_lease(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 5)))
    refused: list[str] = []

    def try_another(_: Progress) -> None:
        with pytest.raises(Conflict) as exc:
            run(container, registry, connectors)
        refused.append(exc.value.message)

    report = run(container, registry, connectors, batch_size=2, progress=try_another)
    assert report.rows_removed == 4 and len(refused) == 2
    assert "is working on lytagra-group/shop" in refused[0]


def test_two_runs_started_at_once_on_one_source_do_not_both_work(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 41)))
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []
    entered = threading.Event()

    def slow(_: Progress) -> None:
        entered.set()

    def worker() -> None:
        barrier.wait()
        try:
            outcomes.append(run(container, registry, connectors, batch_size=5, progress=slow))
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reports = [o for o in outcomes if not isinstance(o, Conflict)]
    # Either one was refused, or the second started only after the first had finished (and found nothing).
    assert sum(r.rows_removed for r in reports) == 40
    assert len(outcomes) == 2
    assert sum(e.rows for e in logged(container)) == 40


def test_a_lease_left_by_a_dead_run_expires_and_is_taken_over(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", {"id": 1, "customer_id": 1, "occurred_at": OLD})
    with container.sessions.begin() as session:
        session.add(
            RetentionLease(
                source_key="lytagra-group/shop",
                run_id="dead",
                owner="x" * 32,
                expires_at=NOW + timedelta(minutes=1),
            )
        )
    with pytest.raises(Conflict):
        run(container, registry, connectors)
    container.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert run(container, registry, connectors).rows_removed == 1


def test_the_destruction_log_holds_no_personal_data_and_the_overview_sums_it(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=OLD)
    shop.add("orders", {"id": 10, "customer_id": 1, "placed_at": OLD, "delivery_name": "Jānis Bērziņš"})
    run(container, registry, connectors)
    text = repr([vars(e) for e in logged(container)])
    for personal in ("c1@example.lv", "Customer 1", "Jānis", "+37129000001", "C-1"):
        assert personal not in text
    with container.read_sessions.begin() as session:
        overview = retention_overview(session=session, now=NOW)
    assert overview.removed_per_rule == {"service-ten-years": 2}
    assert overview.runs[0].status == "finished" and overview.open_runs == 0
    with container.read_sessions.begin() as session:  # as a viewer of the telecom only
        other = retention_overview(session=session, now=NOW, sources={("lmt-group", "loyalty")})
        own = retention_overview(session=session, now=NOW, sources={("lytagra-group", "shop")})
    assert (other.removed_per_rule, other.runs, other.open_runs) == ({}, [], 0)
    assert own.removed_per_rule == {"service-ten-years": 2} and len(own.runs) == 1


def test_the_plan_names_a_source_it_cannot_reach_instead_of_failing(
    container: Container, registry: PolicyRegistry
) -> None:
    from sargs.integrations.sources.sql_retention import SqlRetentionConnector

    with container.read_sessions.begin() as session:
        plans: list[SourcePlan] = plan(
            session=session,
            registry=registry,
            connectors=SqlRetentionConnector.from_env,
            now=NOW,
            policy_id="lytagra-group",
        )
    assert plans[0].error and "SARGS_SOURCE_SHOP_URL" in plans[0].error


def test_many_withdrawn_people_are_matched_in_one_statement(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("email_events", *({"id": i, "customer_id": 1, "email": f"e{i}@example.lv"} for i in range(1, 3)))
    from sargs.domains.retention.rules import source_rules

    policy = registry.policy_for("lytagra-lv")
    rules = source_rules(policy=policy, source=policy.data_sources[0], now=NOW)
    tr = rules.table("customers")
    assert tr is not None
    many = tuple(f"c{i}@example.lv" for i in range(1, 2001))  # customer 1's address among 2,000
    from dataclasses import replace

    events = rules.table("email_events")
    assert events is not None
    withdrawn = replace(events.purposes[0][1][0], withdrawn={"email": many})
    rules = replace(rules, tables=(replace(events, purposes=(("direct-marketing", (withdrawn,)),)),))
    assert connectors(rules).count(table="email_events").expired == 2


def test_ctrl_c_leaves_an_interrupted_run_that_the_next_run_resumes(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 7)))

    def operator_presses_ctrl_c(_: Progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(container, registry, connectors, batch_size=2, progress=operator_presses_ctrl_c)
    with container.read_sessions.begin() as session:
        stopped = session.scalars(select(RetentionRun)).one()
        assert (stopped.status, stopped.rows_removed) == ("interrupted", 2)
    resumed = run(container, registry, connectors, batch_size=2)
    assert resumed.id == stopped.id and resumed.rows_removed == 6 and resumed.status == "finished"


def test_a_hold_on_a_phone_number_finds_it_stored_in_national_form_and_e_mail_in_any_case(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    shop.customer(1, created_at=OLD, phone="29000001")
    shop.customer(2, created_at=OLD, email="Liga.Berzina@Example.LV")
    shop.customer(3, created_at=OLD)
    shop.add("orders", *({"id": i, "customer_id": i, "placed_at": OLD} for i in (1, 2, 3)))
    with container.sessions.begin() as session:
        for identity in (Identity("msisdn", "+37129000001"), Identity("email", "liga.berzina@example.lv")):
            add_hold(
                session=session,
                registry=registry,
                reason="court case",
                created_by="dpo",
                now=NOW,
                identity=identity,
            )
    counts = shop_plan(container, registry, connectors)
    assert (counts["orders"].held, counts["orders"].to_purge) == (2, 1)
    run(container, registry, connectors)
    assert shop.ids("orders") == [1, 2]


def test_a_run_removes_exactly_what_the_plan_said_even_when_purged_children_carried_the_anchor(
    container: Container, registry: PolicyRegistry, source_engine: Any
) -> None:
    import sqlalchemy as sa

    from sargs.integrations.sources.sql_retention import SqlRetentionConnector
    from tests.retention_sources import loyalty_tables

    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(source_engine)
    three_years, last_year = NOW - timedelta(days=3 * 365), NOW - timedelta(days=400)
    with source_engine.begin() as conn:
        conn.execute(
            t["members"].insert(),
            [
                {
                    "id": 1,
                    "msisdn": "+37129000001",
                    "joined_at": NOW - timedelta(days=5 * 365),
                },  # all old: goes
                {
                    "id": 2,
                    "msisdn": "+37129000002",
                    "joined_at": last_year,
                },  # joined after its old transaction
                {"id": 3, "msisdn": "+37129000003", "joined_at": three_years},  # a young transaction keeps it
            ],
        )
        conn.execute(
            t["transactions"].insert(),
            [
                {"id": 1, "member_id": 1, "finished_at": three_years},
                {"id": 2, "member_id": 2, "finished_at": three_years},
                {"id": 3, "member_id": 3, "finished_at": three_years},
                {"id": 4, "member_id": 3, "finished_at": last_year + timedelta(days=200)},
            ],
        )

    def connectors(rules: SourceRules) -> RetentionConnector:
        return SqlRetentionConnector(rules, source_engine)

    with container.read_sessions.begin() as session:
        (planned,) = plan(
            session=session, registry=registry, connectors=connectors, now=NOW, policy_id="lmt-group"
        )
    counts = {x.table: x.counts.to_purge for x in planned.tables}
    assert counts == {"transactions": 3, "members": 1}
    report = run(container, registry, connectors, policy_id="lmt-group", source_id="loyalty")
    assert report.counts == {"transactions": {"deleted": 3}, "members": {"deleted": 1}}
    with source_engine.connect() as conn:
        assert conn.execute(sa.select(t["members"].c.id).order_by(t["members"].c.id)).scalars().all() == [
            2,
            3,
        ]


def test_a_run_that_stalls_past_its_lease_stops_and_leaves_the_run_to_the_one_that_took_over(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    from sargs.domains.retention.leases import LeaseLost

    shop.customer(1, created_at=YOUNG)
    shop.add("loyalty_transactions", *({"id": i, "customer_id": 1, "occurred_at": OLD} for i in range(1, 7)))
    taken: list[str] = []

    def stall_then_lose_the_lease(_: Progress) -> None:
        if taken:
            return
        with container.sessions.begin() as session:
            lease = session.scalars(select(RetentionLease)).one()
            lease.owner, lease.expires_at = "another-worker".ljust(32, "x"), NOW + timedelta(minutes=5)
            run_row = session.scalars(select(RetentionRun)).one()
            run_row.status = "running"
        taken.append("yes")

    with pytest.raises(LeaseLost):
        run(container, registry, connectors, batch_size=2, progress=stall_then_lose_the_lease)
    with container.read_sessions.begin() as session:
        assert session.scalars(select(RetentionRun)).one().status == "running"  # not overwritten
        assert session.scalars(select(RetentionLease)).one().owner.startswith("another-worker")
    assert len(shop.ids("loyalty_transactions")) == 4  # only the first batch went


def test_a_hold_on_one_identity_holds_every_identity_sargs_knows_for_that_person(
    container: Container, registry: PolicyRegistry, connectors: Connectors, shop: Shop
) -> None:
    from sargs.domains.subjects.model import SubjectIdentity

    shop.customer(7, created_at=OLD, email="other@example.lv")  # matched only by customer number C-7
    shop.add("orders", {"id": 70, "customer_id": 7, "placed_at": OLD})
    with container.sessions.begin() as session:
        subject_id, _ = get_or_create_subject(
            session=session,
            identity=Identity("email", "anna@example.lv"),
            controller="lytagra-lv",
            default_group="client",
            now=NOW,
        )
        session.add(SubjectIdentity(subject_id=subject_id, kind="customer", value="C-7", created_at=NOW))
        session.flush()
        add_hold(
            session=session,
            registry=registry,
            reason="court case",
            created_by="dpo",
            now=NOW,
            identity=Identity("email", "anna@example.lv"),
        )
    assert shop_plan(container, registry, connectors)["orders"].held == 1
    run(container, registry, connectors)
    assert shop.ids("orders") == [70]
