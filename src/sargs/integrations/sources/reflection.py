"""What every SQL source adapter needs first: its URL from the environment and its declared tables."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, MetaData, Table
from sqlalchemy.exc import NoSuchTableError, SAWarning

from sargs.core.errors import ConfigurationError, SourceUnavailable
from sargs.domains.policy.sources import DataSource


def source_url(source: DataSource, environ: Mapping[str, str] | None = None) -> str:
    """The source's SQLAlchemy URL from its environment variable; ConfigurationError naming it if unset."""
    url = (environ if environ is not None else os.environ).get(source.url_variable)
    if not url:
        raise ConfigurationError(
            f"data source {source.id!r} has no database URL: set {source.url_variable}", source=source.id
        )
    return url


def reflect_table(
    bind: Connection | Engine,
    *,
    source_id: str,
    name: str,
    metadata: MetaData,
    columns: Sequence[str] | None = None,
) -> Table:
    """The declared table `name` ("schema.table" allowed) as the database has it, limited to
    `columns` when given; SourceUnavailable naming the table or column when it is not there."""
    schema, _, bare = name.rpartition(".")
    try:
        with warnings.catch_warnings():
            # Expression indexes (e.g. lower(email)) are not reflected; the columns are all we need.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            table = Table(
                bare,
                metadata,
                schema=schema or None,
                autoload_with=bind,
                include_columns=list(columns) if columns is not None else None,
                resolve_fks=False,
            )
    except NoSuchTableError:
        raise SourceUnavailable(
            f"source {source_id!r} has no table {name!r}", source=source_id, table=name
        ) from None
    missing = [c for c in columns or () if c not in table.c]
    if missing:
        raise SourceUnavailable(
            f"table {name!r} of source {source_id!r} has no column {missing[0]!r}",
            source=source_id,
            table=name,
        )
    return table
