"""A real source database for retention tests: the retailer's `shop` tables (SQLite file, or a
PostgreSQL schema of the test database when SARGS_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from tests.retention_sources import Shop

SCHEMA = "retention_src"


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
