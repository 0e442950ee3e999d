"""Fulfilment against real sample databases (SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL):
access collects every row reached, and a source that fails halfway erases nothing, shows which
source failed, and succeeds alone when retried."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from sargs.bootstrap import example_policy_paths
from sargs.core.db import make_engine
from sargs.domains.audit.service import Accessor, log_access
from sargs.domains.documents.model import Table
from sargs.domains.dsr.fulfilment import fulfil, runs_of
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.staff.service import add_staff
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import portability_bytes, response_document
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.dsr_fakes import with_empty_mailer
from tests.helpers import sql_sources_only, verified_request
from tests.integration.sources.conftest import source_url as source_url

EMAIL = "peteris.src@example.lv"
ACTOR = DsrActor("staff", "dpo")
BREAK = {
    "sqlite": [
        "CREATE TRIGGER no_update BEFORE UPDATE ON customers BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION no_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
        "CREATE TRIGGER no_update BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION no_update()",
    ],
}
MEND = {
    "sqlite": ["DROP TRIGGER no_update"],
    "postgresql": ["DROP TRIGGER no_update ON customers", "DROP FUNCTION no_update()"],
}


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def ready(container: Container, kind: str) -> str:
    return verified_request(
        container,
        kind=kind,
        identities=[Identity("email", EMAIL)],
        requester={"name": "P", "address": "Rīga", "contact": EMAIL, "signed": True},
        actor=ACTOR,
        ground="unlawful" if kind == "erasure" else None,
    )


def go(container: Container, rid: str, shop: str) -> Any:
    return fulfil(
        sessions=container.sessions,
        registry=container.registry,
        connectors=with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop})),
        request_id=rid,
        actor=ACTOR,
        now=container.clock.now,
        worker="test",
    )


def test_access_collects_the_persons_rows_and_exports_them_as_json_and_csv(
    container: Container, source_url: Callable[[str], str]
) -> None:
    shop = source_url("shop")
    create_shop(shop, people=20, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    with container.sessions.begin() as session:
        create_subject(
            session=session,
            identities=[Identity("email", EMAIL)],
            now=container.clock.now(),
            groups={"lytagra-lv": "client"},
        )
    rid = ready(container, "access")
    with container.sessions.begin() as session:
        staff = add_staff(
            session=session,
            email="laura@staff.example",
            name="Laura Operatore",
            role="operator",
            password="laura-password-long",
            controllers=None,
            now=container.clock.now(),
        )
        subject_id = session.get(DsrRequest, rid).subject_id  # type: ignore[union-attr]
        log_access(
            session=session,
            actor=Accessor("staff", staff.id, "operator"),
            route="GET /console/subjects/{subject_id}",
            action="read",
            now=container.clock.now(),
            subject_id=subject_id,
            reason="customer call",
        )
    assert go(container, rid, shop).status == "fulfilled"
    with container.sessions.begin() as session:
        [run] = [r for r in runs_of(session=session, request_id=rid) if r.source == "shop"]
        tables = {t["table"]: t["rows"] for t in (run.result or {})["tables"]}
    assert [r["email"] for r in tables["customers"]] == [EMAIL]
    assert len(tables["orders"]) == scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1")
    # The answer says which staff looked at the person's data (from the access log), by name.
    doc = response_document(container, rid, language="en")
    staff_table = next(b for b in doc.blocks if isinstance(b, Table) and "Who" in b.headers)
    assert [row[1:5] for row in staff_table.rows] == [
        ["Laura Operatore", "operator", "read", "customer call"]
    ]
    archive = zipfile.ZipFile(io.BytesIO(portability_bytes(container, rid)))
    names = archive.namelist()
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".csv") for n in names)
    assert EMAIL in json.dumps([archive.read(n).decode() for n in names])


def test_a_source_failing_halfway_erases_nothing_and_is_retried_alone(
    container: Container, source_url: Callable[[str], str]
) -> None:
    shop = source_url("shop")
    create_shop(shop, people=20, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    rid = ready(container, "erasure")
    orders = scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1")
    engine = make_engine(shop)
    # The customer row is anonymised last, after orders and events were deleted: make it fail there.
    with engine.begin() as conn:
        for statement in BREAK[engine.dialect.name]:
            conn.execute(text(statement))
    result = go(container, rid, shop)
    assert result.status == "in_progress" and set(result.errors) == {"shop"}
    with engine.begin() as conn:
        for statement in MEND[engine.dialect.name]:
            conn.execute(text(statement))
    assert scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1") == orders
    assert scalar(shop, "SELECT count(*) FROM email_events WHERE customer_id = 1") > 0
    with container.sessions.begin() as session:
        r = session.get(DsrRequest, rid)
        assert r is not None and r.status == "in_progress" and EMAIL in " ".join(r.identities)
        assert [
            (x.status, x.attempts) for x in runs_of(session=session, request_id=rid) if x.source == "shop"
        ] == [("failed", 1)]
    retried = go(container, rid, shop)
    assert retried.status == "partially_fulfilled" and not retried.errors
    assert scalar(shop, "SELECT count(*) FROM email_events WHERE customer_id = 1") == 0
    assert 0 < scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1") < orders
    engine.dispose()


@pytest.fixture(scope="module")
def example_policies() -> list[Policy]:
    """Without the retailer's paper archive: its manual task is tested in test_dsr_followups."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()])
