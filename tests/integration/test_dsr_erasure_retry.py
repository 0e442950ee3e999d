"""An erasure whose worker died after the source had committed, but before Sargs stored the
source's answer: the retry finds nothing by the person's identities any more (the customer row is
anonymised), yet the answer must still list the rows kept and say why (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from sargs.bootstrap import example_policy_paths
from sargs.core.db import make_engine
from sargs.domains.dsr.fulfilment import erasure_tables, fulfil, runs_of
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.entrypoints.container import Container
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.dsr_fakes import with_empty_mailer
from tests.helpers import sql_sources_only
from tests.integration.sources.conftest import source_url as source_url
from tests.integration.test_dsr_sources import ACTOR, BREAK, EMAIL, MEND, ready, scalar


class WorkerDied(BaseException):
    """The process ends here (not an error the fulfilment loop could catch and record)."""


class DiesAfterTheSourceCommitted:
    """A connector factory whose erasure commits in the source, then the worker dies."""

    def __init__(self, real: Callable[[DataSource], Any]) -> None:
        self.real = real

    def __call__(self, source: DataSource) -> Any:
        connector = self.real(source)

        class Dying:
            def erase(self, **kw: Any) -> Any:
                connector.erase(**kw)
                raise WorkerDied

            def __getattr__(self, name: str) -> Any:
                return getattr(connector, name)

        return Dying()


def go(container: Container, rid: str, connectors: Any) -> Any:
    return fulfil(
        sessions=container.sessions,
        registry=container.registry,
        connectors=connectors,
        request_id=rid,
        actor=ACTOR,
        now=container.clock.now,
        worker="test",
    )


def kept_and_deleted(container: Container, rid: str) -> tuple[dict[str, int], dict[str, int]]:
    with container.sessions.begin() as session:
        [run] = [r for r in runs_of(session=session, request_id=rid) if r.source == "shop"]
        assert run.status == "ok"
        tables = erasure_tables(run.result or {})
    return {t.table: t.kept for t in tables if t.kept}, {t.table: t.deleted for t in tables if t.deleted}


@pytest.mark.parametrize("before", [["crash"], ["crash", "crash"], ["crash", "failure"]])
def test_an_erasure_retried_after_a_crash_lists_the_kept_rows_again(
    container: Container, source_url: Callable[[str], str], before: list[str]
) -> None:
    # What an erasure that does not crash answers, on a shop of its own: the reference.
    calm = source_url("calm")
    create_shop(calm, people=5, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    reference = ready(container, "erasure")
    factory = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": calm}))
    assert go(container, reference, factory).status == "partially_fulfilled"
    expected_kept, expected_deleted = kept_and_deleted(container, reference)
    assert expected_kept.get("orders", 0) > 0 and expected_deleted  # the sample keeps young orders

    shop = source_url("shop")
    create_shop(shop, people=5, now=container.clock.now(), known=[KnownPerson(email=EMAIL)])
    rid = ready(container, "erasure")
    real = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    engine = make_engine(shop)
    for what in before:  # a second crash, or a failure, happens during the first retry
        if what == "crash":
            with pytest.raises(WorkerDied):
                go(container, rid, DiesAfterTheSourceCommitted(real))
            container.clock.advance(minutes=16)  # type: ignore[attr-defined]  # the dead worker's lease ran out
        else:
            with engine.begin() as conn:
                for statement in BREAK[engine.dialect.name]:
                    conn.execute(text(statement))
            assert set(go(container, rid, real).errors) == {"shop"}
            with engine.begin() as conn:
                for statement in MEND[engine.dialect.name]:
                    conn.execute(text(statement))
    engine.dispose()
    assert scalar(shop, "SELECT count(*) FROM email_events WHERE customer_id = 1") == 0  # it committed

    retried = go(container, rid, real)
    assert retried.status == "partially_fulfilled", retried
    kept, deleted = kept_and_deleted(container, rid)
    assert kept == expected_kept  # was {}: "0 rows kept" after the crash
    assert deleted == expected_deleted  # what the crashed attempt deleted is still reported
    with container.sessions.begin() as session:
        request = session.get(DsrRequest, rid)
        assert request is not None and request.decision is not None
        assert request.decision["outcome"] == "partially_fulfilled"
        assert request.decision["kept"] == sum(expected_kept.values())


@pytest.fixture(scope="module")
def example_policies() -> list[Policy]:
    """Without the retailer's paper archive: its manual task is tested in test_dsr_followups."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()])
