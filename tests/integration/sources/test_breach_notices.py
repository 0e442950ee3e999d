"""Telling the people of a real source database about a high-risk breach (R-BRE-3): the members in
the affected table are found through the SQL connector, each told once, re-runs tell nobody twice;
an unconfigured source is skipped and named while Sargs' own people are still told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from sargs.domains.access.principal import Principal
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.subjects import notify_affected, source_identities
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import get_or_create_subject
from sargs.entrypoints.container import Container
from sargs.integrations.sources.samples import create_loyalty
from sargs.integrations.sources.sql import sql_connector_factory
from tests.conftest import NOW

DPO = Principal(kind="staff", id="dpo", role="dpo", controllers=None)


def _high_breach(container: Container) -> str:
    with container.sessions.begin() as session:
        b = breaches.register_breach(
            session=session,
            registry=container.registry,
            controller="lmt",
            values={
                "title": "Loyalty members exported",
                "nature": "The members table was copied.",
                "aware_at": NOW - timedelta(hours=3),
                "affected_tables": ["loyalty.members"],
            },
            by=DPO,
            now=NOW,
        )
        breaches.assess_breach(
            session=session,
            registry=container.registry,
            breach_id=b.id,
            risk="high",
            reasoning="Phone numbers exposed.",
            by=DPO,
            now=NOW,
        )
        return b.id


def _run(
    container: Container, breach_id: str, factory: object, unreachable: list[str] | None = None
) -> object:
    policy = container.registry.policy_for("lmt")
    people = source_identities(
        policy=policy,
        affected_tables=["loyalty.members"],
        connectors=factory,
        unreachable=unreachable,  # type: ignore[arg-type]
    )
    return notify_affected(
        sessions=container.sessions,
        policy=policy,
        breach_id=breach_id,
        by=DPO,
        identities=people,
        include_own_subjects=True,
        secret=b"k",
        now=container.clock.now,
        batch=7,
    )


def test_members_of_the_affected_table_are_each_texted_once(
    container: Container, source_url: Callable[[str], str]
) -> None:
    url = source_url("loyalty")
    create_loyalty(url, people=30, now=NOW)
    factory = sql_connector_factory({"SARGS_SOURCE_LOYALTY_URL": url})
    breach_id = _high_breach(container)
    first = _run(container, breach_id, factory)
    assert first.sms == 30  # type: ignore[attr-defined]
    again = _run(container, breach_id, factory)
    assert again.queued == 0 and again.already >= 30  # type: ignore[attr-defined]
    with container.read_sessions.begin() as session:
        numbers = list(session.scalars(select(SmsOutbox.to_number).where(SmsOutbox.kind == "notice")))
    assert len(numbers) == len(set(numbers)) == 30 and all(n.startswith("+371") for n in numbers)


def test_an_unconfigured_source_is_skipped_and_named_and_sargs_own_people_are_still_told(
    container: Container,
) -> None:
    with container.sessions.begin() as session:
        get_or_create_subject(
            session=session,
            identity=Identity("msisdn", "+37129000444"),
            controller="lmt",
            default_group="own",
            now=NOW,
        )
    breach_id = _high_breach(container)
    unreachable: list[str] = []
    report = _run(container, breach_id, sql_connector_factory({}), unreachable)
    assert report.sms == 1  # type: ignore[attr-defined]
    assert unreachable == ["loyalty: data source 'loyalty' has no database URL: set SARGS_SOURCE_LOYALTY_URL"]
    with container.read_sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(SmsOutbox)) == 1


def test_a_table_without_identity_columns_is_named_with_the_tables_to_add(container: Container) -> None:
    unreachable: list[str] = []
    people = source_identities(
        policy=container.registry.policy_for("lmt"),
        affected_tables=["loyalty.transactions"],
        connectors=sql_connector_factory({}),
        unreachable=unreachable,
    )
    assert list(people) == []
    assert unreachable == [
        "loyalty.transactions: no identity column; its people are found through loyalty.members "
        "— add those to the affected tables"
    ]
