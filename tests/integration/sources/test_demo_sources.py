"""`sargs demo` builds sample source databases holding some of its own people, so a request filed
in the demo finds their rows."""

from __future__ import annotations

from pathlib import Path

from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.cli.demo_data import generate
from sargs.entrypoints.cli.demo_sources import create_demo_sources, known_people
from sargs.entrypoints.container import Container
from sargs.integrations.sources.sql import sql_connector_factory


def test_demo_sources_hold_demo_people_and_their_urls_are_set(container: Container, tmp_path: Path) -> None:
    generate(container=container, subjects=60)
    env: dict[str, str] = {}
    made = create_demo_sources(container, tmp_path, people=40, known=10, environ=env)
    assert set(env) == {"SARGS_SOURCE_SHOP_URL", "SARGS_SOURCE_LOYALTY_URL"} and made.urls == env
    assert (tmp_path / "source-shop.db").exists() and "shop" in made.line
    factory = sql_connector_factory(env)
    # The phone the demo names as a shop customer is one: the shop holds its rows.
    assert made.customer_source == "shop" and made.customer_msisdn
    shop = next(s for p in container.registry.policies for s in p.data_sources if s.id == "shop")
    assert factory(shop).collect(identities=[Identity("msisdn", made.customer_msisdn)]).row_count > 1
    for policy in container.registry.policies:
        [source] = [s for s in policy.data_sources if s.kind == "sql"]  # others are worked by hand
        people = known_people(container, source.controllers, limit=10)
        assert people, source.id
        first = people[0]
        identities = (
            [Identity("msisdn", first.msisdn)] if first.msisdn else [Identity("email", first.email or "")]
        )
        access = factory(source).collect(identities=identities)
        assert len(access.tables[0].rows) == 1, source.id
        assert access.row_count > 1  # and rows in the tables below
