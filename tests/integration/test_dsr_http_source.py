"""Fulfilment at the retailer reaches its e-mail platform (an http source, a real local fake) beside
the shop database: a retryable failure is retried with no doubled erasure, a permanent one waits
for staff (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sargs.domains.dsr.fulfilment import FulfilmentResult, erasure_tables, fulfil, runs_of
from sargs.entrypoints.container import Container
from sargs.integrations.sources.fake_mailer import FakeMailer
from sargs.integrations.sources.http import HttpConnectorFactory, KindConnectors
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.fake_platform import TOKEN, serve_fake_mailer
from tests.integration.sources.conftest import source_url as source_url
from tests.integration.test_dsr_sources import ACTOR, EMAIL, ready
from tests.integration.test_dsr_sources import example_policies as example_policies  # no paper archive


@pytest.fixture
def platform() -> Iterator[tuple[FakeMailer, str]]:
    with serve_fake_mailer() as served:
        yield served


def connectors(shop: str, mailer: str, token: str = TOKEN) -> KindConnectors:
    return KindConnectors(
        {
            "sql": sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}),
            "http": HttpConnectorFactory(
                {"SARGS_SOURCE_MAILER_URL": mailer, "SARGS_SOURCE_MAILER_TOKEN": token}
            ),
        }
    )


def go(container: Container, rid: str, factory: Any) -> FulfilmentResult:
    return fulfil(
        sessions=container.sessions,
        registry=container.registry,
        connectors=factory,
        request_id=rid,
        actor=ACTOR,
        now=container.clock.now,
        worker="test",
    )


def mailer_run(container: Container, rid: str) -> Any:
    with container.sessions.begin() as session:
        run = next(r for r in runs_of(session=session, request_id=rid) if r.source == "mailer")
        session.expunge(run)
        return run


def test_access_collects_the_platforms_records_beside_the_shop(
    container: Container, source_url: Callable[[str], str], platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    shop = source_url("shop")
    create_shop(shop, people=5, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    fake.add_person(EMAIL, name="Pēteris Kalns", events=4)
    rid = ready(container, "access")
    assert go(container, rid, connectors(shop, url)).status == "fulfilled"
    run = mailer_run(container, rid)
    tables = {t["table"]: t for t in run.result["tables"]}
    assert len(tables["contacts"]["rows"]) == 1 and len(tables["activity"]["rows"]) == 4
    assert tables["contacts"]["categories"]["first_name"] == "name"


@pytest.mark.parametrize("fault", [("DELETE", "/v1/contacts/"), ("POST", "/v1/privacy/erasure")])
def test_a_retryable_failure_is_retried_and_nothing_is_erased_twice(
    container: Container,
    source_url: Callable[[str], str],
    platform: tuple[FakeMailer, str],
    fault: tuple[str, str],
) -> None:
    fake, url = platform
    shop = source_url("shop")
    create_shop(shop, people=5, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    fake.add_person(EMAIL, events=3)
    fake.add_person("other@example.lv", events=2)
    # The platform does the work, but its answer is a 503 with Retry-After (lost on the way back).
    fake.fail_next(*fault, 503, retry_after="90", then_apply=True)
    rid = ready(container, "erasure")
    first = go(container, rid, connectors(shop, url))
    assert first.status == "in_progress" and first.sources["mailer"] == "failed"
    assert first.retry_at is not None and (first.retry_at - container.clock.now()).total_seconds() == 90
    assert "temporary" in (mailer_run(container, rid).error or "")
    container.clock.advance(seconds=90)  # type: ignore[attr-defined]
    second = go(container, rid, connectors(shop, url))
    assert second.status in ("fulfilled", "partially_fulfilled") and second.retry_at is None
    assert fake.of(EMAIL) == ([], []) and len(fake.of("other@example.lv")[1]) == 2
    assert len(fake.deleted) == 1 and len(fake.jobs) == 1  # one contact deleted, one erasure job
    deleted = {t.table: t.deleted for t in erasure_tables(mailer_run(container, rid).result or {})}
    assert deleted == {"contacts": 1, "activity": 3}  # reported once, as without the fault


def test_a_permanent_failure_is_not_retried_and_waits_for_staff(
    container: Container, source_url: Callable[[str], str], platform: tuple[FakeMailer, str]
) -> None:
    fake, url = platform
    shop = source_url("shop")
    create_shop(shop, people=5, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    fake.add_person(EMAIL)
    rid = ready(container, "erasure")
    result = go(container, rid, connectors(shop, url, token="revoked"))
    assert result.status == "in_progress" and result.retry_at is None
    run = mailer_run(container, rid)
    assert run.status == "failed" and "HTTP 401" in (run.error or "") and "permanent" in (run.error or "")
    assert fake.of(EMAIL)[0] and fake.deleted == []
    assert go(container, rid, connectors(shop, url)).status in ("fulfilled", "partially_fulfilled")
    assert fake.of(EMAIL)[0] == []
