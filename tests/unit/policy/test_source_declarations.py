"""The policy's data-source declarations: every dangling or unusable name is reported with its place."""

from __future__ import annotations

from typing import Any

import pytest

from sargs.bootstrap import EXAMPLES
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.sources import DataSource, source_problems

RULES = {"ten-years": "last_order", "until-withdrawal": "consent_withdrawal"}
CATEGORIES = {"name", "email", "phone"}


def shop(**changes: Any) -> dict[str, Any]:
    tables: list[dict[str, Any]] = [
        {
            "name": "customers",
            "identity": {"email": "email", "msisdn": "phone"},
            "fields": [{"name": "email", "category": "email"}, {"name": "phone", "category": "phone"}],
            "erasure": "anonymise",
        },
        {
            "name": "orders",
            "references": [{"column": "customer_id", "table": "customers"}],
            "fields": [{"name": "delivery_name", "category": "name"}],
            "exemption": {
                "rule": "ten-years",
                "date_column": "placed_at",
                "reason": {"lv": "Glabā 10 gadus.", "en": "Kept for 10 years."},
            },
        },
    ]
    doc: dict[str, Any] = {
        "id": "shop",
        "title": {"lv": "Veikals", "en": "Shop"},
        "kind": "sql",
        "tables": tables,
    }
    doc.update(changes)
    return doc


def problems(*docs: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    sources = [DataSource.model_validate(d) for d in docs]
    return source_problems(sources, controllers={"acme"}, categories=CATEGORIES, rules=RULES)


def test_a_well_formed_declaration_has_no_problems() -> None:
    assert problems(shop(controllers=["acme"])) == []


@pytest.mark.parametrize("name", ["retailer.yaml", "telecom.yaml"])
def test_both_example_files_declare_valid_sources(name: str) -> None:
    policy = load_policy(EXAMPLES / name)
    # The retailer's paper archive is worked by hand (issue 16): a task, not a connection; its
    # e-mail platform is reached over its HTTP API.
    assert [s.kind for s in policy.data_sources] == (
        ["sql", "manual", "http"] if name == "retailer.yaml" else ["sql"]
    )
    categories = {c.id for c in policy.data_categories}
    rules: dict[str, str] = {r.id: r.anchor for r in policy.retention_rules}
    controllers = {c.id for c in policy.controllers}
    assert (
        source_problems(policy.data_sources, controllers=controllers, categories=categories, rules=rules)
        == []
    )


def test_a_reference_to_an_undeclared_table_is_reported_at_the_reference() -> None:
    doc = shop()
    doc["tables"][1]["references"][0]["table"] = "clients"
    assert problems(doc) == [
        (
            ("data_sources", 0, "tables", 1, "references", 0, "table"),
            "unknown table 'clients' (valid: customers, orders)",
        )
    ]


def test_references_forming_a_cycle_are_reported() -> None:
    doc = shop()
    doc["tables"][0]["references"] = [{"column": "last_order_id", "table": "orders"}]
    [(where, message)] = problems(doc)
    assert where[:3] == ("data_sources", 0, "tables") and "cycle" in message


def test_a_self_reference_is_not_a_cycle() -> None:
    doc = shop()
    doc["tables"][1]["references"].append({"column": "parent_order_id", "table": "orders"})
    assert problems(doc) == []


def test_keeping_a_tables_rows_needs_a_reason() -> None:
    doc = shop()
    doc["tables"][1]["erasure"] = "keep"
    assert problems(doc) == [
        (("data_sources", 0, "tables", 1, "keep_reason"), "say why erasure keeps this table's rows")
    ]


def test_an_unknown_data_category_is_reported_at_the_field() -> None:
    doc = shop()
    doc["tables"][0]["fields"][0]["category"] = "shoe-size"
    assert problems(doc) == [
        (
            ("data_sources", 0, "tables", 0, "fields", 0, "category"),
            "unknown data category 'shoe-size' (valid: email, name, phone)",
        )
    ]


def test_an_exemption_under_an_unknown_retention_rule_is_reported() -> None:
    doc = shop()
    doc["tables"][1]["exemption"]["rule"] = "forever"
    assert problems(doc) == [
        (
            ("data_sources", 0, "tables", 1, "exemption", "rule"),
            "unknown retention rule 'forever' (valid: ten-years, until-withdrawal)",
        )
    ]


def test_a_table_with_neither_identity_nor_reference_is_reported() -> None:
    doc = shop()
    doc["tables"].append({"name": "audit_log"})
    [(where, message)] = problems(doc)
    assert where == ("data_sources", 0, "tables", 2, "identity")
    assert "reach a person" in message


def test_a_table_that_only_references_itself_cannot_reach_a_person() -> None:
    doc = shop()
    doc["tables"].append({"name": "notes", "references": [{"column": "reply_to", "table": "notes"}]})
    [(where, message)] = problems(doc)
    assert where == ("data_sources", 0, "tables", 2, "references")
    assert "'notes'" in message


def test_an_unknown_controller_and_a_duplicate_source_id_are_both_reported() -> None:
    found = problems(shop(controllers=["nobody"]), shop())
    assert (("data_sources", 0, "controllers", 0), "unknown controller 'nobody' (valid: acme)") in found
    assert (("data_sources", 1, "id"), "duplicate id 'shop'") in found


def test_the_url_variable_defaults_to_the_source_id() -> None:
    assert DataSource.model_validate(shop(id="web-shop")).url_variable == "SARGS_SOURCE_WEB_SHOP_URL"
    assert DataSource.model_validate(shop(url_env="SHOP_DB")).url_variable == "SHOP_DB"


def test_a_manual_source_names_known_categories_and_only_a_manual_source_is_worked_by_hand() -> None:
    archive = {
        "id": "archive",
        "title": {"lv": "Arhīvs", "en": "Archive"},
        "kind": "manual",
        "manual": {"assignee": "arhivs@acme.example", "data_categories": ["email", "shoe_size"]},
    }
    [(at, message)] = problems(archive)
    assert at == ("data_sources", 0, "manual", "data_categories", 1) and "shoe_size" in message
    wrong = shop(manual={"assignee": "arhivs@acme.example"})
    assert any("only a source of kind manual" in m for _, m in problems(wrong))


def test_a_manual_source_needs_a_plain_assignee_address() -> None:
    with pytest.raises(ValueError, match="assignee"):
        DataSource.model_validate(
            {
                "id": "a",
                "title": {"lv": "A", "en": "A"},
                "kind": "manual",
                "manual": {"assignee": "not an address"},
            }
        )
