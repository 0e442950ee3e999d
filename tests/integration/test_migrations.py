"""Every migration goes up and down, and the models match the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import sargs.domains.models  # noqa: F401
from sargs.core.db import Base
from sargs.migrations import downgrade, upgrade
from tests.helpers import PG_URL


def _url(tmp_path: Path) -> str:
    return PG_URL or f"sqlite:///{tmp_path / 'm.db'}"


def test_upgrade_downgrade_upgrade_round_trip(tmp_path: Path, _template_db: str) -> None:
    url = _url(tmp_path)
    upgrade(url)
    downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_agree(tmp_path: Path, _template_db: str) -> None:
    url = _url(tmp_path)
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"a model changed without a migration: {diff}"
