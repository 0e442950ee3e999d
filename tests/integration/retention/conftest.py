"""A real source database for retention tests: the retailer's `shop` tables (SQLite file, or a
PostgreSQL schema of the test database when SARGS_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from sargs.core.db import make_engine
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.retention.ports import RetentionConnector
from sargs.domains.retention.rules import SourceRules
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from tests.helpers import PG_URL

SCHEMA = "retention_src"


def shop_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The tables examples/retailer.yaml declares for its `shop` source."""
    when = sa.DateTime(timezone=True)
    customers = sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_no", sa.String(32)),
        sa.Column("email", sa.String(200)),
        sa.Column("phone", sa.String(20)),
        sa.Column("full_name", sa.String(200)),
        sa.Column("address", sa.String(200)),
        sa.Column("created_at", when, nullable=False),
    )
    orders = sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("placed_at", when, nullable=False, index=True),
        sa.Column("delivery_name", sa.String(200)),
        sa.Column("delivery_address", sa.String(200)),
        sa.Column("delivery_phone", sa.String(20)),
    )
    loyalty = sa.Table(
        "loyalty_transactions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("occurred_at", when, nullable=False, index=True),
        sa.Column("card_number", sa.String(40)),
    )
    events = sa.Table(
        "email_events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("kind", sa.String(20)),
    )
    return {t.name: t for t in (customers, orders, loyalty, events)}


class Shop:
    """The shop database: insert rows, read what is left."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = sa.MetaData()
        self.t = shop_tables(self.metadata)
        self.metadata.create_all(engine)

    def add(self, table: str, *rows: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.t[table].insert(), list(rows))

    def customer(self, id: int, created_at: datetime, **values: Any) -> None:
        row = {
            "customer_no": f"C-{id}",
            "email": f"c{id}@example.lv",
            "phone": f"+3712900{id:04d}",
            "full_name": f"Customer {id}",
            "address": f"Street {id}",
        }
        self.add("customers", {"id": id, "created_at": created_at, **row, **values})

    def ids(self, table: str) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(self.t[table].c.id).order_by(self.t[table].c.id)).scalars())

    def row(self, table: str, id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(self.t[table]).where(self.t[table].c.id == id)).one()._mapping)


@pytest.fixture
def source_engine(tmp_path: Path) -> Iterator[Engine]:
    if PG_URL:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        admin.dispose()
        engine = make_engine(PG_URL + f"?options=-csearch_path%3D{SCHEMA}")
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def shop(source_engine: Engine) -> Shop:
    return Shop(source_engine)


@pytest.fixture
def connectors(source_engine: Engine) -> Callable[[SourceRules], RetentionConnector]:
    def make(rules: SourceRules) -> RetentionConnector:
        return SqlRetentionConnector(rules, source_engine)

    return make


def retailer(example_policies: list[Policy], *, archive: bool = False, **changes: Any) -> Policy:
    """The example retailer policy; the ten-year rule without its archive exemption unless asked."""
    policy = next(
        p
        for p in example_policies
        if p.id.startswith("lytagra") or any(s.id == "shop" for s in p.data_sources)
    )
    rules = [
        r.model_copy(update={"archive_exemption": archive, **changes}) if r.id == "service-ten-years" else r
        for r in policy.retention_rules
    ]
    return policy.model_copy(update={"retention_rules": rules})


@pytest.fixture
def registry(example_policies: list[Policy]) -> PolicyRegistry:
    """The retailer without the archive exemption (so the ten-year rule deletes), and the telecom."""
    telecom = next(p for p in example_policies if any(s.id == "loyalty" for s in p.data_sources))
    return PolicyRegistry([retailer(example_policies), telecom])
