"""Sample source databases for the connector tests: a SQLite file, or a schema of our own in
PostgreSQL (when SARGS_TEST_DATABASE_URL is set) that is dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import PG_URL


@pytest.fixture
def source_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory of empty source databases, one per name asked for."""
    schemas: list[str] = []

    def make(name: str) -> str:
        if not PG_URL:
            return f"sqlite:///{tmp_path / (name + '.db')}"
        schema = f"src_{name}_{secrets.token_hex(4)}"
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        schemas.append(schema)
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"

    yield make
    if schemas:
        engine = create_engine(PG_URL or "")
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
