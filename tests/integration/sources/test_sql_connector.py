"""The SQL connector against real sample databases (SQLite, or PostgreSQL when configured):
collect a person's rows, erase them with the ten-year exemption, fail whole, retry, stream identities."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from sargs.bootstrap import EXAMPLES
from sargs.core.db import make_engine
from sargs.core.errors import ConfigurationError, InvalidInput, SourceUnavailable
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy, RetentionRule
from sargs.domains.policy.sources import DataSource
from sargs.domains.sources.reports import SourceErasure, TableErasure
from sargs.domains.subjects.identifiers import Identity
from sargs.integrations.sources.samples import KnownPerson, create_loyalty, create_shop
from sargs.integrations.sources.sql import SqlConnector, sql_connector_factory
from tests.helpers import PG_URL

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
JANIS = KnownPerson("+37129100001", "Janis.Berzins@Example.lv")  # stored as +37129100001
LIGA = KnownPerson("+37129100002", None)  # stored the local way: 29100002
JANIS_IDS = [Identity("msisdn", JANIS.msisdn or ""), Identity("email", "janis.berzins@example.lv")]
LIGA_IDS = [Identity("msisdn", LIGA.msisdn or "")]


@pytest.fixture(scope="module")
def retailer() -> Policy:
    return load_policy(EXAMPLES / "retailer.yaml")


@pytest.fixture(scope="module")
def telecom() -> Policy:
    return load_policy(EXAMPLES / "telecom.yaml")


def rules(policy: Policy) -> dict[str, RetentionRule]:
    return {r.id: r for r in policy.retention_rules}


@pytest.fixture
def shop_url(source_url: Callable[[str], str]) -> str:
    url = source_url("shop")
    create_shop(url, people=40, now=NOW, known=[JANIS, LIGA], orders_per_person=2)
    return url


@pytest.fixture
def shop(retailer: Policy, shop_url: str) -> Iterator[SqlConnector]:
    connector = SqlConnector(retailer.data_sources[0], shop_url)
    yield connector
    connector.close()


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def run(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    return {
        t: scalar(url, f"SELECT count(*) FROM {t}")
        for t in ("customers", "orders", "loyalty_transactions", "email_events")
    }


def by_table(result: SourceErasure) -> dict[str, TableErasure]:
    return {t.table: t for t in result.tables}


# --- collect --------------------------------------------------------------------------------


def test_collect_finds_a_customer_by_phone_and_follows_every_reference(shop: SqlConnector) -> None:
    access = shop.collect(identities=[Identity("msisdn", "+37129100001")])
    rows = {t.table: t.rows for t in access.tables}
    assert [c["customer_no"] for c in rows["customers"]] == ["C-100000"]
    assert len(rows["orders"]) == 2 and {o["customer_id"] for o in rows["orders"]} == {1}
    assert len(rows["loyalty_transactions"]) == 2
    assert rows["email_events"] and {e["email"] for e in rows["email_events"]} == {"Janis.Berzins@Example.lv"}
    json.dumps(rows)  # JSON-safe as it comes
    assert isinstance(rows["orders"][0]["placed_at"], str)
    assert access.tables[0].categories == {
        "full_name": "name",
        "email": "email",
        "phone": "phone",
        "address": "address",
    }


def test_a_locally_stored_number_matches_the_e164_identity(shop: SqlConnector) -> None:
    access = shop.collect(identities=LIGA_IDS)
    [customer] = access.tables[0].rows
    assert customer["phone"] == "29100002"


def test_email_matches_whatever_case_the_source_stored(shop: SqlConnector) -> None:
    access = shop.collect(identities=[Identity("email", "janis.berzins@example.lv")])
    assert [c["id"] for c in access.tables[0].rows] == [1]


def test_customer_number_finds_the_customer(shop: SqlConnector) -> None:
    assert shop.collect(identities=[Identity("customer", "C-100001")]).tables[0].rows[0]["id"] == 2


def test_a_stranger_has_no_rows(shop: SqlConnector) -> None:
    access = shop.collect(
        identities=[Identity("msisdn", "+37129999999"), Identity("email", "nobody@example.lv")]
    )
    assert access.row_count == 0 and access.tables[0].table == "customers"


def test_collect_works_in_batches_for_a_person_with_many_rows(retailer: Policy, shop_url: str) -> None:
    run(
        shop_url,
        *[
            f"INSERT INTO orders (id, customer_id, placed_at, item, total_eur) "
            f"VALUES ({10_000 + i}, 1, '2026-01-01 00:00:00', 'x', 1)"
            for i in range(30)
        ],
    )
    connector = SqlConnector(retailer.data_sources[0], shop_url, batch_size=7)
    try:
        rows = {t.table: t.rows for t in connector.collect(identities=JANIS_IDS).tables}
    finally:
        connector.close()
    assert len(rows["orders"]) == 32


# --- erase ----------------------------------------------------------------------------------


def test_erasure_deletes_old_orders_keeps_young_ones_and_anonymises_the_customer(
    shop: SqlConnector, shop_url: str, retailer: Policy
) -> None:
    before = counts(shop_url)
    result = shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    assert result.ok and result.error is None
    t = by_table(result)
    assert (t["orders"].deleted, t["orders"].kept) == (1, 1)
    assert t["orders"].kept_reason is not None and "2.4.1" in t["orders"].kept_reason.en
    assert t["orders"].kept_until is not None and date(2034, 11, 23) < t["orders"].kept_until <= date(
        2036, 11, 23
    )
    assert (t["customers"].anonymised, t["customers"].deleted) == (1, 0)
    assert t["loyalty_transactions"].deleted == 2
    assert t["email_events"].deleted >= 1
    after = counts(shop_url)
    assert after["customers"] == before["customers"]
    assert after["orders"] == before["orders"] - 1
    assert after["loyalty_transactions"] == before["loyalty_transactions"] - 2
    assert after["email_events"] == before["email_events"] - t["email_events"].deleted
    name, email, phone, address, number = (
        scalar(shop_url, f"SELECT {c} FROM customers WHERE id = 1")
        for c in ("full_name", "email", "phone", "address", "customer_no")
    )
    assert name.startswith("anonymised-") and email.startswith("anonymised-")
    assert (phone, address) == (None, None)
    assert number != "C-100000" and len(number) <= 20  # fits the column
    # The kept order still points at the (anonymised) customer; other customers are untouched.
    assert scalar(shop_url, "SELECT count(*) FROM orders WHERE customer_id = 1") == 1
    assert scalar(shop_url, "SELECT full_name FROM customers WHERE id = 2").startswith("anonymised-") is False


def test_erasing_again_finds_nothing_more(shop: SqlConnector, shop_url: str, retailer: Policy) -> None:
    assert shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer)).ok
    before = counts(shop_url)
    again = shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    assert again.ok
    assert all((t.deleted, t.anonymised, t.kept) == (0, 0, 0) for t in again.tables)
    assert counts(shop_url) == before
    assert shop.collect(identities=JANIS_IDS).row_count == 0


def test_a_parent_the_table_would_delete_is_anonymised_while_kept_rows_point_at_it(
    retailer: Policy, shop_url: str
) -> None:
    declared = retailer.data_sources[0].model_dump(mode="json")
    declared["tables"][0]["erasure"] = "delete"  # customers: delete, but the young order is kept
    connector = SqlConnector(DataSource.model_validate(declared), shop_url)
    try:
        janis = by_table(connector.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer)))
        run(shop_url, "DELETE FROM orders WHERE customer_id = 2 AND placed_at > '2016-01-01'")
        liga = by_table(connector.erase(identities=LIGA_IDS, now=NOW, rules=rules(retailer)))
    finally:
        connector.close()
    assert (
        janis["customers"].deleted,
        janis["customers"].anonymised,
        janis["customers"].anonymised_not_deleted,
    ) == (0, 1, 1)
    assert scalar(shop_url, "SELECT count(*) FROM customers WHERE id = 1") == 1
    # With no young order left, Līga's customer row goes entirely.
    assert (liga["customers"].deleted, liga["customers"].anonymised) == (1, 0)
    assert scalar(shop_url, "SELECT count(*) FROM customers WHERE id = 2") == 0


def test_a_later_date_lets_the_kept_orders_go_too(
    shop: SqlConnector, shop_url: str, retailer: Policy
) -> None:
    later = datetime(2040, 1, 1, tzinfo=UTC)
    t = by_table(shop.erase(identities=JANIS_IDS, now=later, rules=rules(retailer)))
    assert (t["orders"].deleted, t["orders"].kept, t["orders"].kept_reason) == (2, 0, None)


def test_the_loyalty_source_deletes_member_and_transactions(
    telecom: Policy, source_url: Callable[[str], str]
) -> None:
    url = source_url("loyalty")
    create_loyalty(url, people=20, now=NOW, known=[LIGA])
    connector = SqlConnector(telecom.data_sources[0], url)
    try:
        assert connector.collect(identities=LIGA_IDS).row_count >= 3
        t = by_table(connector.erase(identities=LIGA_IDS, now=NOW, rules=rules(telecom)))
    finally:
        connector.close()
    assert t["members"].deleted == 1 and t["transactions"].deleted >= 2
    assert scalar(url, "SELECT count(*) FROM members WHERE id = 1") == 0


# --- failures -------------------------------------------------------------------------------


def refuse_deletes(url: str, table: str) -> None:
    if PG_URL:
        run(
            url,
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER refuse BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    else:
        run(url, f"CREATE TRIGGER refuse BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")


def test_a_source_failing_halfway_changes_nothing_and_a_retry_after_the_fix_succeeds(
    shop: SqlConnector, shop_url: str, retailer: Policy
) -> None:
    before = counts(shop_url)
    refuse_deletes(shop_url, "loyalty_transactions")  # erased second, after email_events
    failed = shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    assert not failed.ok and failed.tables == []
    assert failed.error is not None and "'loyalty_transactions'" in failed.error
    for personal in ("Janis", "29100001", "Bērziņ", "example.lv"):
        assert personal.lower() not in failed.error.lower()
    assert counts(shop_url) == before  # the e-mail events deleted first were rolled back
    assert scalar(shop_url, "SELECT phone FROM customers WHERE id = 1") == "+37129100001"

    run(shop_url, "DROP TRIGGER refuse ON loyalty_transactions" if PG_URL else "DROP TRIGGER refuse")
    retried = shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    assert retried.ok and by_table(retried)["loyalty_transactions"].deleted == 2


def test_a_table_dropped_after_planning_fails_the_erasure_with_its_name(
    shop: SqlConnector, shop_url: str, retailer: Policy
) -> None:
    assert shop.collect(identities=JANIS_IDS).row_count > 0  # the tables are reflected now
    run(shop_url, "DROP TABLE loyalty_transactions")
    before = counts_without(shop_url, "loyalty_transactions")
    result = shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    assert not result.ok and result.error is not None and "loyalty_transactions" in result.error
    assert counts_without(shop_url, "loyalty_transactions") == before


def counts_without(url: str, missing: str) -> dict[str, int]:
    return {
        t: scalar(url, f"SELECT count(*) FROM {t}")
        for t in ("customers", "orders", "email_events")
        if t != missing
    }


def test_a_missing_declared_column_is_named(retailer: Policy, shop_url: str) -> None:
    declared = retailer.data_sources[0].model_dump(mode="json")
    declared["tables"][0]["fields"].append({"name": "birth_date", "category": "name"})
    connector = SqlConnector(DataSource.model_validate(declared), shop_url)
    try:
        with pytest.raises(SourceUnavailable, match="no column 'birth_date'"):
            connector.collect(identities=JANIS_IDS)
        result = connector.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    finally:
        connector.close()
    assert not result.ok and result.error is not None and "birth_date" in result.error


def test_concurrent_erasures_of_one_person_count_each_row_once(retailer: Policy, shop_url: str) -> None:
    connector = SqlConnector(retailer.data_sources[0], shop_url)
    results: list[SourceErasure] = []
    barrier = threading.Barrier(2)

    def erase() -> None:
        barrier.wait()
        results.append(connector.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer)))

    threads = [threading.Thread(target=erase) for _ in range(2)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        connector.close()
    assert all(r.ok for r in results)
    orders = sorted(by_table(r)["orders"].deleted for r in results)
    customers = sorted(by_table(r)["customers"].anonymised for r in results)
    assert (orders, customers) == ([0, 1], [0, 1])


# --- identities and the factory -------------------------------------------------------------


def test_identities_stream_normalised_and_skip_anonymised_values(
    shop: SqlConnector, retailer: Policy
) -> None:
    before = list(shop.identities(tables=["customers"]))
    assert Identity("msisdn", "+37129100002") in before  # stored as 29100002
    assert Identity("email", "janis.berzins@example.lv") in before
    assert Identity("customer", "C-100000") in before
    shop.erase(identities=JANIS_IDS, now=NOW, rules=rules(retailer))
    after = list(shop.identities())
    assert Identity("msisdn", "+37129100001") not in after
    assert not any(i.value.startswith("anonymised-") for i in after)
    with pytest.raises(InvalidInput, match="no table 'invoices'"):
        list(shop.identities(tables=["invoices"]))


def test_the_factory_reads_the_url_from_the_sources_variable(retailer: Policy, shop_url: str) -> None:
    shop = retailer.data_sources[0]
    factory = sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop_url})
    connector = factory(shop)
    assert connector is factory(shop)
    assert connector.collect(identities=LIGA_IDS).row_count > 0
    factory.close()
    assert factory(shop) is not connector  # a fresh pool after close
    with pytest.raises(ConfigurationError, match="set SARGS_SOURCE_SHOP_URL"):
        sql_connector_factory({})(shop)
    manual = DataSource.model_validate(shop.model_dump(mode="json") | {"kind": "manual"})
    with pytest.raises(ConfigurationError, match="kind 'manual'"):
        factory(manual)


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection:sqlalchemy.exc.SAWarning")
def test_the_sample_shop_indexes_every_identity_and_reference_column(shop_url: str) -> None:
    from sqlalchemy import inspect

    engine = make_engine(shop_url)
    try:
        inspector = inspect(engine)
        indexed = {
            (t, tuple(ix["column_names"]))
            for t in ("customers", "orders", "loyalty_transactions", "email_events")
            for ix in inspector.get_indexes(t)
        }
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("customers")}
    finally:
        engine.dispose()
    for table in ("orders", "loyalty_transactions", "email_events"):
        assert (table, ("customer_id",)) in indexed
    assert ("customers", ("phone",)) in indexed
    assert ("customer_no",) in unique
