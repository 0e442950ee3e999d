"""Recording that a person was told, exactly once, in one statement that needs no prior read.

INSERT ... ON CONFLICT DO NOTHING RETURNING the keys actually inserted (PostgreSQL and SQLite
3.35+): the unique index decides who is new, so a batch never scans what earlier batches
recorded, and two runs at once cannot both tell the same person.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, unique: Sequence[str], key: str
) -> set[Any]:
    """Insert the rows whose `unique` columns are not taken yet; the `key` values of those inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(list(rows)).on_conflict_do_nothing(index_elements=list(unique))
    return set(session.scalars(stmt.returning(table.c[key])))
