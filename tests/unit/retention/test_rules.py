"""Retention rules without a database (R-RET-1): calendar cutoffs, how bindings combine, holds,
the archive exemption and the purge order of the example sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sargs.core.clock import FixedClock
from sargs.domains.policy.schema import Duration, Policy, RetentionRule
from sargs.domains.retention.rules import (
    Condition,
    Holds,
    RowFacts,
    TableRules,
    cutoff,
    decide,
    period_end,
    purge_order,
    source_rules,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def policy(example_policies: list[Policy], source: str) -> Policy:
    return next(p for p in example_policies if any(s.id == source for s in p.data_sources))


def test_ten_years_from_29_february_end_on_28_february() -> None:
    assert period_end(at(2016, 2, 29), Duration(years=10)) == at(2026, 2, 28)
    # On 2026-02-28 both 2016-02-28 and 2016-02-29 have had their ten years.
    assert cutoff(Duration(years=10), at(2026, 2, 28)) == at(2016, 2, 29)
    assert cutoff(Duration(years=10), at(2026, 3, 1)) == at(2016, 3, 1)


def test_a_month_back_from_a_month_end_is_the_shorter_months_end() -> None:
    assert cutoff(Duration(months=1), at(2026, 3, 31)) == at(2026, 2, 28)
    assert period_end(at(2026, 1, 31), Duration(months=1)) == at(2026, 2, 28)
    assert cutoff(Duration(months=1), at(2026, 2, 28)) == at(2026, 1, 31)


periods = st.builds(
    Duration,
    years=st.integers(0, 12),
    months=st.integers(0, 24),
    weeks=st.integers(0, 10),
    days=st.integers(0, 40),
).filter(lambda d: d.approx_days() > 0)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@given(period=periods, anchor=instants, now=instants)
def test_a_row_is_past_the_cutoff_exactly_when_its_period_has_ended(
    period: Duration, anchor: datetime, now: datetime
) -> None:
    assert (anchor <= cutoff(period, now)) == (period_end(anchor, period) <= now)


def test_a_fixed_clock_moves_the_cutoff_with_it() -> None:
    clock = FixedClock(NOW)
    before = cutoff(Duration(years=2), clock.now())
    clock.advance(days=1)
    assert cutoff(Duration(years=2), clock.now()) == before + timedelta(days=1)


def rule(
    id: str, purpose: str, *, anchor: str = "last_order", period: str | None = "P1Y", **kw: object
) -> RetentionRule:
    return RetentionRule.model_validate(
        {"id": id, "purpose": purpose, "anchor": anchor, "period": period, **kw}
    )


def cond(r: RetentionRule, now: datetime = NOW) -> Condition:
    return Condition(
        rule=r,
        cutoff=cutoff(r.period, now) if r.period else None,
        date_column="d",
        archive=r.archive_exemption is True,
    )


def table(
    *groups: tuple[str, tuple[Condition, ...]], held: bool = False, action: str = "delete"
) -> TableRules:
    from sargs.domains.policy.sources import SourceTable

    return TableRules(
        table=SourceTable(name="t", identity={"email": "email"}),
        purposes=tuple(groups),
        action=action,  # type: ignore[arg-type]
        held=held,
    )


OLD = NOW - timedelta(days=800)
RECENT = NOW - timedelta(days=100)


def test_several_rules_for_one_purpose_whichever_ends_first() -> None:
    two_years = cond(rule("two-years", "loyalty", period="P2Y"))
    withdrawal = cond(rule("until-withdrawal", "loyalty", anchor="consent_withdrawal", period=None))
    rules = table(("loyalty", (two_years, withdrawal)))
    assert decide(rules, RowFacts(anchors={"two-years": OLD})) == "purge"
    assert decide(rules, RowFacts(anchors={"two-years": RECENT})) == "keep"
    assert decide(rules, RowFacts(anchors={"two-years": RECENT}, withdrawn={"loyalty": NOW})) == "purge"


def test_a_row_is_kept_while_any_purpose_still_needs_it() -> None:
    service = cond(rule("service", "service", period="P1Y"))
    marketing = cond(rule("marketing", "marketing", anchor="consent_withdrawal", period=None))
    rules = table(("service", (service,)), ("marketing", (marketing,)))
    assert decide(rules, RowFacts(anchors={"service": OLD})) == "keep"
    assert decide(rules, RowFacts(anchors={"service": RECENT}, withdrawn={"marketing": NOW})) == "keep"
    assert decide(rules, RowFacts(anchors={"service": OLD}, withdrawn={"marketing": NOW})) == "purge"


def test_a_withdrawal_rule_with_a_period_waits_that_long_after_the_withdrawal() -> None:
    grace = cond(rule("grace", "marketing", anchor="consent_withdrawal", period="P30D"))
    rules = table(("marketing", (grace,)))
    assert decide(rules, RowFacts(withdrawn={"marketing": NOW - timedelta(days=29)})) == "keep"
    assert decide(rules, RowFacts(withdrawn={"marketing": NOW - timedelta(days=30)})) == "purge"


def test_holds_archive_and_live_children_keep_an_expired_row_and_say_why() -> None:
    plain = cond(rule("plain", "service"))
    archived = cond(rule("archived", "service", archive_exemption=True))
    expired = RowFacts(anchors={"plain": OLD, "archived": OLD})
    assert decide(table(("service", (plain,)), held=True), expired) == "held"
    assert decide(table(("service", (plain,))), RowFacts(anchors={"plain": OLD}, held=True)) == "held"
    assert decide(table(("service", (plain, archived))), expired) == "archive"
    # The archive rule itself has not ended: the row goes under the plain rule, not to the archive.
    assert (
        decide(table(("service", (plain, archived))), RowFacts(anchors={"plain": OLD, "archived": RECENT}))
        == "purge"
    )
    assert (
        decide(table(("service", (plain,))), RowFacts(anchors={"plain": OLD}, live_children=True))
        == "blocked"
    )
    assert (
        decide(
            table(("service", (plain,)), action="anonymise"),
            RowFacts(anchors={"plain": OLD}, live_children=True),
        )
        == "purge"
    )
    assert decide(table(("service", (plain,))), RowFacts(anchors={"plain": None})) == "keep"


def test_example_sources_purge_children_before_parents(example_policies: list[Policy]) -> None:
    shop = next(s for s in policy(example_policies, "shop").data_sources if s.id == "shop")
    order = [t.name for t in purge_order(shop)]
    assert order.index("customers") == len(order) - 1
    loyalty = next(s for s in policy(example_policies, "loyalty").data_sources if s.id == "loyalty")
    assert [t.name for t in purge_order(loyalty)] == ["transactions", "members"]


def test_example_bindings_resolve_with_their_anchors_and_actions(example_policies: list[Policy]) -> None:
    telecom = policy(example_policies, "loyalty")
    rules = source_rules(
        policy=telecom,
        source=telecom.data_sources[0],
        now=NOW,
        holds=Holds(tables=frozenset({"transactions"})),
    )
    members = rules.table("members")
    assert members is not None and members.action == "delete" and not members.held
    assert [p for p, _ in members.purposes] == ["loyalty"]  # two rules, one purpose: whichever first
    two_years = members.purposes[0][1][0]
    assert two_years.cutoff == at(2024, 11, 23, 10, 0)
    assert two_years.latest_of is not None and (two_years.latest_of.table, two_years.latest_of.via) == (
        "transactions",
        "member_id",
    )
    assert rules.table("transactions") is not None and rules.table("transactions").held  # type: ignore[union-attr]
    retail = policy(example_policies, "shop")
    shop_rules = source_rules(policy=retail, source=retail.data_sources[0], now=NOW)
    customers = shop_rules.table("customers")
    assert customers is not None and customers.action == "anonymise"  # erasure: anonymise in the shop
    # R 2.5: only the accounting documents (orders) go to the state archive; the rest is destroyed.
    archived = {t.table.name for t in shop_rules.tables if t.archive_conditions}
    assert archived == {"orders"}
    assert (
        "newest orders.placed_at and created_at on or before 2016-11-23" in customers.conditions[0].describe()
    )
    assert "state archive" not in customers.conditions[0].describe()
    orders = shop_rules.table("orders")
    assert orders is not None and "kept for the state archive" in orders.conditions[0].describe()


def test_an_archive_exemption_covers_the_tables_it_names_and_those_holding_its_categories() -> None:
    from sargs.domains.policy.sources import DataSource, SourceField, SourceTable
    from sargs.domains.retention.rules import archived

    orders = SourceTable(
        name="orders", identity={"email": "email"}, fields=[SourceField(name="total", category="accounting")]
    )
    invoices = SourceTable(
        name="invoices", identity={"email": "email"}, fields=[SourceField(name="no", category="invoice")]
    )
    visits = SourceTable(name="visits", identity={"email": "email"})
    shop = DataSource.model_validate({"id": "shop", "title": {"lv": "v", "en": "s"}, "kind": "sql"})
    by_category = rule("r", "service", archive_exemption={"data_categories": ["accounting", "invoice"]})
    by_table = rule("r", "service", archive_exemption={"tables": ["shop/visits"]})
    whole = rule("r", "service", archive_exemption=True)
    none = rule("r", "service")
    assert [archived(by_category, shop, t) for t in (orders, invoices, visits)] == [True, True, False]
    assert [archived(by_table, shop, t) for t in (orders, invoices, visits)] == [False, False, True]
    assert all(archived(whole, shop, t) for t in (orders, invoices, visits))
    assert not any(archived(none, shop, t) for t in (orders, invoices, visits))
    assert "whole rule" in Condition(rule=whole, cutoff=NOW, date_column="d", archive=True).describe()


@pytest.mark.parametrize("bad", ["P", "10Y", "P1H"])
def test_periods_must_be_iso_durations(bad: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(bad)
