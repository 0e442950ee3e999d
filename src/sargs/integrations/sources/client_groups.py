"""Reading a client-group source (policy `client_group_sources`): the members' identity columns,
streamed from the organisation's database with a server-side cursor, so memory stays flat."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from sargs.core.db import make_engine
from sargs.core.errors import ConfigurationError, SourceUnavailable
from sargs.domains.policy.clients import ClientGroupSource
from sargs.integrations.sources.reflection import reflect_table

FETCH = 5000


def client_rows(
    source: ClientGroupSource, environ: Mapping[str, str] | None = None
) -> Iterator[Mapping[str, Any]]:
    """Every member row of `source` as {identity kind: value}, in primary-key order where there is one."""
    url = (environ if environ is not None else os.environ).get(source.url_variable)
    if not url:
        raise ConfigurationError(
            f"client-group source {source.id!r} has no database URL: set {source.url_variable}",
            source=source.id,
        )
    engine = make_engine(url, pool_size=1) if not url.startswith("sqlite") else make_engine(url)
    try:
        columns = sorted({*source.identity.values(), *source.where})
        try:
            t = reflect_table(
                engine, source_id=source.id, name=source.table, metadata=sa.MetaData(), columns=columns
            )
        except sa.exc.OperationalError:
            raise SourceUnavailable(
                f"source {source.id!r}: the database cannot be reached", source=source.id
            ) from None
        stmt = sa.select(*[t.c[col].label(kind) for kind, col in source.identity.items()])
        for column, values in source.where.items():
            stmt = stmt.where(t.c[column].in_(values))
        pk = list(t.primary_key.columns)
        if pk:
            stmt = stmt.order_by(*pk)
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=FETCH).execute(stmt)
            for row in result.mappings():
                yield {k: v for k, v in row.items() if v is not None}
    finally:
        engine.dispose()
