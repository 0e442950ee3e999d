"""Retention on an SQL data source (R-RET-2): the rules of `sargs.domains.retention.rules` compiled to SQL.

Tables are reflected from the live database (SQLAlchemy Core); every expression about another table
goes through a fresh alias, so a subquery never correlates to the wrong row. Reads run without a
write lock; each purge is one short transaction over one primary-key range (keyset pagination),
which on PostgreSQL also sets `lock_timeout`, so a batch gives up rather than queue behind a lock.
People (consent withdrawn, legal holds) are matched as the DSR connector matches them
(`sql.msisdn_forms`: E.164, digits, 00…, national; e-mail case-insensitively; customer exactly).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Engine, FromClause, MetaData, Table
from sqlalchemy.dialects.postgresql import ARRAY

from sargs.core.db import make_engine
from sargs.core.errors import ConfigurationError
from sargs.domains.policy.sources import SourceTable
from sargs.domains.retention.ports import TableCounts
from sargs.domains.retention.rules import Condition, SourceRules, TableRules, children_of
from sargs.integrations.sources.reflection import reflect_table, source_url
from sargs.integrations.sources.sql import msisdn_forms

ANON_PREFIX = "anonymised-"
_BIG_IN = 500
_FALSE: ColumnElement[bool] = sa.false()
_TRUE: ColumnElement[bool] = sa.true()


class SqlRetentionConnector:
    """Counts and purges expired rows of one SQL source."""

    def __init__(
        self, rules: SourceRules, engine: Engine, *, own_engine: bool = False, region: str = "LV"
    ) -> None:
        self.rules = rules
        self.region = region
        self.source = rules.source
        self.engine = engine
        self._own_engine = own_engine
        self._read = engine.execution_options(readonly=True)
        self.dialect = engine.dialect.name
        metadata = MetaData()
        self.tables: dict[str, Table] = {}
        try:
            for declared in self.source.tables:
                self.tables[declared.name] = reflect_table(
                    engine, source_id=self.source.id, name=declared.name, metadata=metadata
                )
        except sa.exc.OperationalError:
            raise ConfigurationError(f"source {self.source.id!r}: the database cannot be reached") from None

    @classmethod
    def from_env(cls, rules: SourceRules) -> SqlRetentionConnector:
        """The connector for a declared source, its URL read from the environment."""
        return cls(rules, make_engine(source_url(rules.source), pool_size=2), own_engine=True)

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()

    # --- the port -------------------------------------------------------------------------------

    def count(self, *, table: str) -> TableCounts:
        tr = self._rules(table)
        t = self.tables[table]
        expired = self._expired(tr, t)
        held = self._held(tr, t)
        archive = self._archive(tr, t)
        fresh = self._not_done(tr, t)
        purgeable = sa.and_(expired, sa.not_(held), sa.not_(archive), fresh)
        blocked = self._live_children(tr.table, t) if tr.action == "delete" else _FALSE
        stmt = sa.select(
            self._sum(expired),
            self._sum(sa.and_(expired, held)),
            self._sum(sa.and_(expired, sa.not_(held), archive)),
            self._sum(sa.and_(purgeable, blocked)),
            self._sum(sa.and_(purgeable, sa.not_(blocked))),
        ).select_from(t)
        with self._read.connect() as conn:
            row = conn.execute(stmt).one()
        return TableCounts(*(int(v or 0) for v in row))

    def next_keys(self, *, table: str, after: Any | None, limit: int) -> list[Any]:
        tr = self._rules(table)
        t = self.tables[table]
        pk = t.c[tr.table.primary_key]
        where = self._runnable(tr, t)
        if after is not None:
            where = sa.and_(pk > after, where)
        stmt = sa.select(pk).where(where).order_by(pk).limit(limit)
        with self._read.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def purge(self, *, table: str, first: Any, last: Any) -> int:
        tr = self._rules(table)
        t = self.tables[table]
        where = sa.and_(t.c[tr.table.primary_key].between(first, last), self._runnable(tr, t))
        if tr.action == "delete":
            stmt: Any = sa.delete(t).where(where)
        else:
            stmt = sa.update(t).where(where).values(self._anonymised_values(tr.table, t))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            result = conn.execute(stmt)
        return int(result.rowcount)

    def remaining(self, *, table: str, first: Any, last: Any) -> int:
        tr = self._rules(table)
        t = self.tables[table]
        where = sa.and_(t.c[tr.table.primary_key].between(first, last), self._runnable(tr, t))
        with self._read.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar_one())

    # --- expressions ----------------------------------------------------------------------------

    def _rules(self, table: str) -> TableRules:
        tr = self.rules.table(table)
        if tr is None:
            raise KeyError(f"no retention rule binds table {table!r}")
        return tr

    @staticmethod
    def _sum(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    def _runnable(self, tr: TableRules, t: FromClause) -> ColumnElement[bool]:
        """Rows a run purges now: expired, not held, not for the archive, not done, no rows point at them."""
        parts = [self._expired(tr, t), sa.not_(self._held(tr, t)), sa.not_(self._archive(tr, t))]
        parts.append(self._not_done(tr, t))
        if tr.action == "delete":
            for child, column, to in children_of(self.source, tr.table):
                c = self.tables[child.name].alias()
                parts.append(~sa.exists().where(c.c[column] == t.c[to]))
        return sa.and_(*parts)

    def _expired(self, tr: TableRules, t: FromClause) -> ColumnElement[bool]:
        return sa.and_(
            *(sa.or_(*(self._condition(c, tr.table, t) for c in group)) for _, group in tr.purposes)
        )

    def _archive(self, tr: TableRules, t: FromClause) -> ColumnElement[bool]:
        conds = tr.archive_conditions
        return sa.or_(*(self._condition(c, tr.table, t) for c in conds)) if conds else _FALSE

    def _held(self, tr: TableRules, t: FromClause) -> ColumnElement[bool]:
        if tr.held:
            return _TRUE
        return self._person_in(tr.table, t, self.rules.holds.identities)

    def _not_done(self, tr: TableRules, t: FromClause) -> ColumnElement[bool]:
        """For anonymisation: the row still holds something to anonymise."""
        if tr.action == "delete":
            return _TRUE
        parts = []
        for f in tr.table.fields:
            if f.erasure == "keep" or f.name not in t.c:
                continue
            value = self._anonymous(tr.table, t, f.name) if f.erasure == "anonymise" else None
            col = t.c[f.name]
            parts.append(col.is_(None) if value is None else sa.or_(col.is_(None), col == value))
        return sa.not_(sa.and_(*parts)) if parts else _FALSE

    def _anonymous(self, table: SourceTable, t: FromClause, name: str) -> ColumnElement[Any] | None:
        if not isinstance(t.c[name].type, sa.String):
            return None
        return sa.literal(ANON_PREFIX, sa.String) + sa.cast(t.c[table.primary_key], sa.String)

    def _anonymised_values(self, table: SourceTable, t: Table) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in table.fields:
            if f.erasure == "keep" or f.name not in t.c:
                continue
            values[f.name] = self._anonymous(table, t, f.name) if f.erasure == "anonymise" else None
        return values

    def _condition(self, cond: Condition, table: SourceTable, t: FromClause) -> ColumnElement[bool]:
        if cond.on_withdrawal:
            return self._person_in(table, t, cond.withdrawn)
        assert cond.cutoff is not None
        fallback = self._on_or_before(t.c[cond.date_column], cond.cutoff) if cond.date_column else _FALSE
        if cond.latest_of is None:
            return fallback
        lo = cond.latest_of
        other = self.tables[lo.table].alias()
        linked = other.c[lo.via] == t.c[lo.to]
        young = sa.exists().where(linked, sa.not_(self._on_or_before(other.c[lo.column], cond.cutoff)))
        if cond.date_column:
            # The newest of the row's own date and its children's: stable while a run purges the
            # expired children first (a fallback to the own date would move once they are gone).
            return sa.and_(~young, fallback)
        return sa.and_(~young, sa.exists().where(other.c[lo.via] == t.c[lo.to]))

    def _on_or_before(self, col: sa.ColumnElement[Any], at: datetime) -> ColumnElement[bool]:
        value: Any
        kind = col.type
        if isinstance(kind, sa.DateTime):
            aware = bool(kind.timezone) and self.dialect != "sqlite"
            value = at.astimezone(UTC) if aware else at.astimezone(UTC).replace(tzinfo=None)
        elif isinstance(kind, sa.Date):
            value = at.astimezone(UTC).date()
        else:  # dates kept as text (SQLite): ISO strings compare in time order
            value = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return sa.and_(col.is_not(None), col <= value)

    def _person_in(
        self, table: SourceTable, t: FromClause, identities: Mapping[str, Sequence[str]], depth: int = 0
    ) -> ColumnElement[bool]:
        """The row belongs to one of `identities`: by an identity column, or through a reference."""
        parts = []
        for kind, column in table.identity.items():
            values = identities.get(kind)
            if not values:
                continue
            col: ColumnElement[Any] = t.c[column]
            if kind == "msisdn":  # the forms the DSR connector matches too (E.164, 00…, national)
                values = list(dict.fromkeys(f for v in values for f in msisdn_forms(v, region=self.region)))
            elif kind == "email":
                col, values = sa.func.lower(col), [v.lower() for v in values]
            parts.append(self._in(col, values))
        if depth < 8:
            for ref in table.references:
                parent = self.source.table(ref.table)
                if parent is None or parent.name == table.name:
                    continue
                p = self.tables[parent.name].alias()
                inner = self._person_in(parent, p, identities, depth + 1)
                if inner is not _FALSE:
                    key = p.c[ref.to_column or parent.primary_key]
                    parts.append(t.c[ref.column].in_(sa.select(key).where(inner)))
        return sa.or_(*parts) if parts else _FALSE

    def _in(self, col: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
        if len(values) <= _BIG_IN:
            return col.in_(list(values))
        if self.dialect == "postgresql":
            return sa.cast(col, sa.Text) == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.Text)))
        each = sa.func.json_each(sa.bindparam(None, json.dumps(list(values)), type_=sa.Text)).table_valued(
            "value"
        )
        return col.in_(sa.select(each.c.value))

    def _live_children(self, table: SourceTable, t: FromClause, depth: int = 0) -> ColumnElement[bool]:
        """Some row of another table points at this row and will stay after a run (plan only)."""
        parts = []
        for child, column, to in children_of(self.source, table):
            c = self.tables[child.name].alias()
            linked = c.c[column] == t.c[to]
            ctr = self.rules.table(child.name)
            if ctr is None or ctr.action == "anonymise" or depth >= 8:
                parts.append(sa.exists().where(linked))
                continue
            stays = sa.or_(
                sa.not_(self._expired(ctr, c)),
                self._held(ctr, c),
                self._archive(ctr, c),
                self._live_children(child, c, depth + 1),
            )
            parts.append(sa.exists().where(linked, stays))
        return sa.or_(*parts) if parts else _FALSE
