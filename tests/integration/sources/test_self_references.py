"""A declared source with a self-reference (ticket replies) and a non-default key column."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, insert, select

from sargs.core.db import make_engine
from sargs.core.errors import ConfigurationError
from sargs.domains.policy.schema import RetentionRule
from sargs.domains.policy.sources import DataSource
from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.container import no_sources
from sargs.integrations.sources.sql import SqlConnector
from tests.helpers import PG_URL, requires_postgres

NOW = datetime(2026, 11, 23, tzinfo=UTC)
RULES = {
    "two-years": RetentionRule.model_validate(
        {"id": "two-years", "purpose": "service", "period": "P2Y", "anchor": "collection"}
    )
}
SOURCE = DataSource.model_validate(
    {
        "id": "helpdesk",
        "title": {"lv": "Palīdzības dienests", "en": "Help desk"},
        "kind": "sql",
        "tables": [
            {
                "name": "people",
                "primary_key": "code",
                "identity": {"email": "mail"},
                "fields": [{"name": "mail", "category": "email"}],
            },
            {
                "name": "tickets",
                "references": [
                    {"column": "person_code", "table": "people", "to_column": "code"},
                    {"column": "reply_to", "table": "tickets"},
                ],
                "fields": [{"name": "body", "category": "email", "erasure": "set_null"}],
                "exemption": {
                    "rule": "two-years",
                    "date_column": "opened_at",
                    "reason": {"lv": "Sūdzības glabā 2 gadus.", "en": "Complaints are kept 2 years."},
                },
            },
        ],
    }
)


def build(url: str) -> None:
    md = MetaData()
    people = Table("people", md, Column("code", String(10), primary_key=True), Column("mail", String(100)))
    tickets = Table(
        "tickets",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("person_code", String(10), ForeignKey("people.code")),
        Column("reply_to", Integer, ForeignKey("tickets.id")),
        Column("body", String(500)),
        Column("opened_at", DateTime, nullable=False),
    )
    engine = make_engine(url)
    md.create_all(engine)
    old, young = datetime(2020, 1, 1), datetime(2026, 6, 1)
    with engine.begin() as conn:
        conn.execute(
            insert(people),
            [{"code": "P1", "mail": "Ieva@Example.lv"}, {"code": "P2", "mail": "x@example.lv"}],
        )
        conn.execute(
            insert(tickets),
            [
                # Ieva's old ticket, a young reply to it (no person_code: reached through reply_to),
                # an old reply to that reply, and somebody else's ticket.
                {"id": 1, "person_code": "P1", "reply_to": None, "body": "Sveiki, Ieva", "opened_at": old},
                {"id": 2, "person_code": None, "reply_to": 1, "body": "Atbilde", "opened_at": young},
                {"id": 3, "person_code": None, "reply_to": 2, "body": "Vēl", "opened_at": old},
                {"id": 4, "person_code": "P2", "reply_to": None, "body": "Cits", "opened_at": old},
            ],
        )
    engine.dispose()


def test_replies_are_followed_to_the_end_and_a_kept_reply_holds_its_parent(
    source_url: Callable[[str], str],
) -> None:
    url = source_url("helpdesk")
    build(url)
    connector = SqlConnector(SOURCE, url)
    ieva = [Identity("email", "ieva@example.lv")]
    try:
        access = connector.collect(identities=ieva)
        assert [r["code"] for r in access.tables[0].rows] == ["P1"]
        assert [r["id"] for r in access.tables[1].rows] == [1, 2, 3]
        result = connector.erase(identities=ieva, now=NOW, rules=RULES)
    finally:
        connector.close()
    assert result.ok, result.error
    people, tickets = result.tables
    # Ticket 2 is young: kept. Ticket 1 would go but 2 replies to it: anonymised. Ticket 3 goes.
    assert (tickets.kept, tickets.deleted, tickets.anonymised, tickets.anonymised_not_deleted) == (1, 1, 1, 1)
    assert (people.deleted, people.anonymised_not_deleted) == (0, 1)  # ticket 1 still points at P1
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Table("tickets", MetaData(), autoload_with=conn))).mappings().all()
        people_table = Table("people", MetaData(), autoload_with=conn)
        mail = {code: m for code, m in conn.execute(select(people_table.c.code, people_table.c.mail))}
    engine.dispose()
    assert {r["id"]: r["body"] for r in rows} == {1: None, 2: "Atbilde", 4: "Cits"}
    assert mail["P1"].startswith("anonymised-") and mail["P2"] == "x@example.lv"


def test_without_bootstrap_a_container_reaches_no_source() -> None:
    with pytest.raises(ConfigurationError, match="no data sources configured"):
        no_sources(SOURCE)


def test_an_exemption_keeps_only_its_rules_categories_in_the_kept_rows(
    source_url: Callable[[str], str],
) -> None:
    url = source_url("helpdesk")
    build(url)
    engine = make_engine(url)
    with engine.begin() as conn:  # the young reply names its author too
        t = Table("tickets", MetaData(), autoload_with=conn)
        conn.execute(t.update().where(t.c.id == 2).values(person_code="P1"))
    engine.dispose()
    declared = SOURCE.model_dump(mode="json")
    declared["tables"][1]["fields"].append({"name": "person_code", "category": "name", "erasure": "set_null"})
    rules = {
        "two-years": RetentionRule.model_validate(
            {
                "id": "two-years",
                "purpose": "service",
                "period": "P2Y",
                "anchor": "collection",
                "data_categories": ["email"],
            }
        )
    }
    connector = SqlConnector(DataSource.model_validate(declared), url)
    try:
        result = connector.erase(identities=[Identity("email", "ieva@example.lv")], now=NOW, rules=rules)
    finally:
        connector.close()
    assert result.ok, result.error
    tickets = result.tables[1]
    assert (tickets.kept, tickets.kept_categories, tickets.cleared_categories) == (1, ("email",), ("name",))
    engine = make_engine(url)
    with engine.connect() as conn:
        t = Table("tickets", MetaData(), autoload_with=conn)
        kept = conn.execute(select(t.c.body, t.c.person_code).where(t.c.id == 2)).one()
    engine.dispose()
    assert tuple(kept) == ("Atbilde", None)  # the body (email category) stays, the name field is cleared


@requires_postgres
def test_schema_qualified_table_names_are_reached_without_a_search_path(
    source_url: Callable[[str], str],
) -> None:
    url = source_url("qualified")
    build(url)
    schema = url.rsplit("%3D", 1)[1]
    declared = SOURCE.model_dump(mode="json")
    for table in declared["tables"]:
        table["name"] = f"{schema}.{table['name']}"
        for ref in table["references"]:
            ref["table"] = f"{schema}.{ref['table']}"
    connector = SqlConnector(DataSource.model_validate(declared), PG_URL or "")
    ieva = [Identity("email", "ieva@example.lv")]
    try:
        assert connector.collect(identities=ieva).row_count == 4
        result = connector.erase(identities=ieva, now=NOW, rules=RULES)
    finally:
        connector.close()
    assert result.ok, result.error
    assert [t.table for t in result.tables] == [f"{schema}.people", f"{schema}.tickets"]
    assert result.tables[1].kept == 1
