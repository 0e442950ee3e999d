"""Migration 0003 upgrades and downgrades cleanly (SQLite and PostgreSQL) and matches the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import sargs.domains.models  # noqa: F401
from sargs.core.db import Base
from sargs.migrations import downgrade, upgrade
from tests.helpers import PG_URL

TABLES = {"staff_members", "web_sessions", "access_log", "one_time_codes", "request_intents"}


def test_people_tables_come_and_go_with_the_migration(tmp_path: Path) -> None:
    url = PG_URL or f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    try:
        downgrade(url, "0001")
        engine = create_engine(url)
        assert not TABLES & set(inspect(engine).get_table_names())
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        engine.dispose()
    finally:
        upgrade(url)
