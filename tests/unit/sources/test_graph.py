"""The walk over a source's tables: parents before children to find rows, children first to erase."""

from __future__ import annotations

from typing import Any

import pytest

from sargs.bootstrap import EXAMPLES
from sargs.core.errors import PolicyError
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.sources.graph import Edge, plan_source


def source(*tables: dict[str, Any]) -> DataSource:
    return DataSource.model_validate(
        {"id": "s", "title": {"lv": "S", "en": "S"}, "kind": "sql", "tables": list(tables)}
    )


def ref(table: str, column: str, to: str | None = None) -> dict[str, Any]:
    return {"table": table, "column": column, "to_column": to}


def test_the_retailer_shop_is_visited_from_customers_and_erased_children_first() -> None:
    shop = load_policy(EXAMPLES / "retailer.yaml").data_sources[0]
    plan = plan_source(shop)
    assert plan.visit[0] == "customers"
    assert set(plan.visit) == {"customers", "orders", "loyalty_transactions", "email_events"}
    assert plan.erase_order[-1] == "customers"
    assert Edge("orders", "customer_id", "customers", "id") in plan.edges


def test_a_child_declared_before_its_parent_is_still_visited_after_it() -> None:
    plan = plan_source(
        source(
            {"name": "items", "references": [ref("orders", "order_id")]},
            {"name": "orders", "references": [ref("people", "person_no", "number")]},
            {"name": "people", "primary_key": "pid", "identity": {"email": "mail"}},
        )
    )
    assert plan.visit == ("people", "orders", "items")
    assert plan.erase_order == ("items", "orders", "people")
    assert plan.into("orders") == [Edge("orders", "person_no", "people", "number")]
    assert plan.into("items") == [Edge("items", "order_id", "orders", "id")]


def test_a_table_reached_two_ways_comes_after_both_parents() -> None:
    plan = plan_source(
        source(
            {"name": "payments", "references": [ref("orders", "order_id"), ref("cards", "card_id")]},
            {"name": "cards", "identity": {"customer": "holder"}},
            {"name": "orders", "identity": {"msisdn": "phone", "email": "email"}},
        )
    )
    assert plan.visit.index("payments") > max(plan.visit.index("cards"), plan.visit.index("orders"))
    assert {e.parent for e in plan.into("payments")} == {"orders", "cards"}


def test_a_self_reference_is_kept_apart_from_the_references_to_other_tables() -> None:
    plan = plan_source(
        source(
            {"name": "people", "identity": {"email": "email"}},
            {"name": "orders", "references": [ref("people", "person_id"), ref("orders", "parent_id")]},
        )
    )
    assert plan.visit == ("people", "orders")
    assert plan.self_edges("orders") == [Edge("orders", "parent_id", "orders", "id")]
    assert plan.into("orders") == [Edge("orders", "person_id", "people", "id")]
    assert plan.out_of("orders") == []


def test_a_table_that_only_references_itself_is_rejected() -> None:
    with pytest.raises(PolicyError, match="'notes' has no identity column"):
        plan_source(
            source(
                {"name": "people", "identity": {"email": "email"}},
                {"name": "notes", "references": [ref("notes", "reply_to")]},
            )
        )


def test_a_table_below_an_unreachable_one_is_rejected_too() -> None:
    with pytest.raises(PolicyError, match="'a'"):
        plan_source(
            source(
                {"name": "people", "identity": {"email": "email"}},
                {"name": "a", "references": [ref("a", "up")]},
                {"name": "b", "references": [ref("a", "a_id")]},
            )
        )


def test_a_reference_cycle_is_rejected() -> None:
    with pytest.raises(PolicyError, match="cycle"):
        plan_source(
            source(
                {
                    "name": "people",
                    "identity": {"email": "email"},
                    "references": [ref("orders", "last_order")],
                },
                {"name": "orders", "references": [ref("people", "person_id")]},
            )
        )


def test_a_reference_to_an_undeclared_table_is_rejected() -> None:
    with pytest.raises(PolicyError, match="unknown table 'ghosts'"):
        plan_source(
            source({"name": "orders", "identity": {"email": "e"}, "references": [ref("ghosts", "g")]})
        )
