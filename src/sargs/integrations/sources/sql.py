"""The SQL data-source connector: any database SQLAlchemy can reach (R-DSR-6).

Only the tables and columns the policy declares are reflected and touched; every statement is
built with SQLAlchemy Core, so names are quoted by the dialect and values are bound parameters.

Matching identities (documented in README "Data sources"):
- msisdn: the identity is E.164 (+37129123456); a source column matches when it holds that
  exact text, the digits without "+" (37129123456), the "00" international form
  (0037129123456), or, for numbers of the connector's region (LV by default), the national
  number (29123456). Numbers stored with spaces or dashes are not matched.
- email: compared case-insensitively (lower(column) = the normalised address); index
  lower(column) in a large source.
- customer: the exact text.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import phonenumbers
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sargs.core.db import make_engine
from sargs.core.errors import ConfigurationError, InvalidInput, SargsError, SourceUnavailable
from sargs.domains.policy.schema import RetentionRule
from sargs.domains.policy.sources import DataSource, SourceTable
from sargs.domains.sources.graph import Plan, plan_source
from sargs.domains.sources.ports import ConnectorFactory, SourceConnector
from sargs.domains.sources.reports import SourceAccess, SourceErasure, TableErasure, TableRows
from sargs.domains.sources.values import MARKER_PREFIX, as_utc, json_safe, marker, shift
from sargs.domains.subjects.identifiers import Identity, make_identity
from sargs.integrations.sources.reflection import reflect_table, source_url

Row = dict[str, Any]
Found = dict[str, dict[Any, Row]]  # table -> primary key -> row (raw values by column name)


def msisdn_forms(e164: str, *, region: str = "LV") -> list[str]:
    """The texts a source may hold for one E.164 number (see the module docstring)."""
    digits = e164.lstrip("+")
    forms = [e164, digits, "00" + digits]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    if phonenumbers.region_code_for_number(number) == region:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        forms.append("".join(ch for ch in national if ch.isdigit()))
        forms.append(phonenumbers.national_significant_number(number))
    return list(dict.fromkeys(forms))


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _declared_columns(decl: SourceTable, plan: Plan) -> list[str]:
    cols = [decl.primary_key, *decl.identity.values()]
    cols += [r.column for r in decl.references]
    cols += [f.name for f in decl.fields]
    if decl.exemption:
        cols.append(decl.exemption.date_column)
    cols += [r.date_column for r in decl.retention if r.date_column]
    cols += [e.to_column for e in plan.edges if e.parent == decl.name]
    return list(dict.fromkeys(cols))


class SqlConnector:
    """Collects and erases one person's rows in one SQL source, as its declaration says."""

    def __init__(
        self,
        source: DataSource,
        url: str,
        *,
        region: str = "LV",
        batch_size: int = 500,
        engine: Engine | None = None,
    ) -> None:
        if source.kind != "sql":
            raise ConfigurationError(
                f"data source {source.id!r} is of kind {source.kind!r}; only sql sources have a connector"
            )
        self.source = source
        self.plan = plan_source(source)
        self.region = region
        self.batch_size = batch_size
        self._decl = {t.name: t for t in source.tables}
        self._columns = {t.name: _declared_columns(t, self.plan) for t in source.tables}
        self._engine = engine or make_engine(url)
        self._tables: dict[str, Table] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def forget_schema(self) -> None:
        """Reflect the tables again on next use (after the source's schema changed)."""
        with self._lock:
            self._tables = None

    # --- the port -------------------------------------------------------------------------

    def collect(self, *, identities: Sequence[Identity]) -> SourceAccess:
        """Every row reached from `identities` (identity columns, then references), JSON-safe."""
        state: dict[str, str | None] = {"table": None}
        try:
            with self._engine.connect() as conn:
                conn = conn.execution_options(readonly=True)
                with conn.begin():
                    tables = self._reflect(conn)
                    found = self._find(conn, tables, identities, lock=False, state=state)
        except SQLAlchemyError as exc:
            raise SourceUnavailable(self._safe_error(exc, state["table"]), source=self.source.id) from None
        out = []
        for name in self.plan.visit:
            decl = self._decl[name]
            cols = self._columns[name]
            rows = [
                {c: json_safe(row[c]) for c in cols}
                for _, row in sorted(found[name].items(), key=lambda kv: _sort_key(kv[0]))
            ]
            out.append(TableRows(table=name, rows=rows, categories={f.name: f.category for f in decl.fields}))
        return SourceAccess(source=self.source.id, tables=out)

    def erase(
        self,
        *,
        identities: Sequence[Identity],
        now: datetime,
        rules: Mapping[str, RetentionRule],
        earlier: Mapping[str, Sequence[Any]] | None = None,
        on_found: Callable[[dict[str, list[Any]]], None] | None = None,
    ) -> SourceErasure:
        """Erase in dependency order in one transaction; exemptions by `rules` keep rows and say why.

        `earlier` / `on_found`: what an interrupted attempt found, and the hook that notes what this
        one finds before changing anything (see the port, SourceConnector.erase)."""
        state: dict[str, str | None] = {"table": None}
        try:
            with self._engine.begin() as conn:
                tables = self._reflect(conn)
                found = self._find(conn, tables, identities, lock=True, state=state, keys=earlier)
                if on_found is not None:
                    on_found(_found_keys(found))
                remaining: Found = {}
                results: dict[str, TableErasure] = {}
                for name in self.plan.erase_order:
                    state["table"] = name
                    results[name] = self._erase_table(conn, tables[name], found, remaining, now, rules)
        except (SQLAlchemyError, SargsError) as exc:
            error = self._safe_error(exc, state["table"]) + "; nothing was changed"
            return SourceErasure(source=self.source.id, ok=False, error=error)
        gone = _gone(earlier or {}, found)  # deleted by the interrupted attempt
        return SourceErasure(
            source=self.source.id,
            ok=True,
            tables=[
                replace(results[n], deleted=results[n].deleted + gone[n]) if gone.get(n) else results[n]
                for n in self.plan.visit
            ],
        )

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        """Every identity held in the identity columns of `tables` (all identified tables if None).

        Values are normalised (local phone numbers become E.164); values that are not a valid
        identity (and anonymisation markers) are skipped. The same identity may come twice when
        two tables hold it.
        """
        names = list(tables) if tables is not None else [t.name for t in self.source.tables if t.identity]
        for name in names:
            if name not in self._decl:
                raise InvalidInput(f"source {self.source.id!r} declares no table {name!r}", field="tables")
        with self._engine.connect() as conn:
            conn = conn.execution_options(readonly=True, stream_results=True, yield_per=5000)
            with conn.begin():
                reflected = self._reflect(conn)
                for name in names:
                    tbl = reflected[name]
                    for kind, col in self._decl[name].identity.items():
                        stmt = select(tbl.c[col]).where(tbl.c[col].is_not(None)).distinct()
                        for value in conn.execute(stmt).scalars():
                            text = str(value)
                            if text.startswith(MARKER_PREFIX):
                                continue
                            try:
                                yield make_identity(kind, text, region=self.region)
                            except InvalidInput:
                                continue

    def check(self) -> dict[str, int]:
        """Reflect every declared table and column and count each table's rows; SourceUnavailable if not."""
        self.forget_schema()
        state: dict[str, str | None] = {"table": None}
        try:
            with self._engine.connect() as conn:
                conn = conn.execution_options(readonly=True)
                with conn.begin():
                    tables = self._reflect(conn)
                    counts = {}
                    for name in self.plan.visit:
                        state["table"] = name
                        counts[name] = int(
                            conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
                        )
                    return counts
        except SQLAlchemyError as exc:
            raise SourceUnavailable(self._safe_error(exc, state["table"]), source=self.source.id) from None

    # --- reflection -----------------------------------------------------------------------

    def _reflect(self, conn: Connection) -> dict[str, Table]:
        with self._lock:
            if self._tables is not None:
                return self._tables
            metadata = MetaData()
            tables: dict[str, Table] = {}
            for name, cols in self._columns.items():
                tbl = reflect_table(
                    conn, source_id=self.source.id, name=name, metadata=metadata, columns=cols
                )
                tables[name] = tbl
            self._tables = tables
            return tables

    # --- finding a person's rows -------------------------------------------------------------

    def _identity_conditions(
        self, tbl: Table, decl: SourceTable, identities: Sequence[Identity]
    ) -> list[Any]:
        conds: list[ColumnElement[bool]] = []
        for kind, col in decl.identity.items():
            values = [i.value for i in identities if i.kind == kind]
            if not values:
                continue
            column = tbl.c[col]
            if kind == "msisdn":
                forms = [f for v in values for f in msisdn_forms(v, region=self.region)]
                conds.append(column.in_(list(dict.fromkeys(forms))))
            elif kind == "email":
                conds.append(func.lower(column).in_([v.lower() for v in values]))
            else:
                conds.append(column.in_(values))
        return conds

    def _find(
        self,
        conn: Connection,
        tables: dict[str, Table],
        identities: Sequence[Identity],
        *,
        lock: bool,
        state: dict[str, str | None],
        keys: Mapping[str, Sequence[Any]] | None = None,
    ) -> Found:
        """The person's rows: by identity columns, by `keys` (table -> primary keys) if given, then
        by references from the rows found."""
        found: Found = {}
        for name in self.plan.visit:
            state["table"] = name
            decl, tbl = self._decl[name], tables[name]
            cols = [tbl.c[c] for c in self._columns[name]]
            pk = decl.primary_key
            rows: dict[Any, Row] = {}

            def fetch(
                where: Any, *, cols: list[Column[Any]] = cols, rows: dict[Any, Row] = rows, pk: str = pk
            ) -> list[Row]:
                stmt = select(*cols).where(where)
                if lock:
                    stmt = stmt.with_for_update()
                new = []
                for r in conn.execute(stmt).mappings():
                    row = dict(r)
                    if row[pk] not in rows:
                        rows[row[pk]] = row
                        new.append(row)
                return new

            conds = self._identity_conditions(tbl, decl, identities)
            if conds:
                fetch(or_(*conds))
            if keys and keys.get(name):
                for chunk in _chunks(_key_values(tbl.c[pk], keys[name]), self.batch_size):
                    fetch(tbl.c[pk].in_(chunk))
            for edge in self.plan.into(name):
                values = _distinct(r[edge.to_column] for r in found[edge.parent].values())
                for chunk in _chunks(values, self.batch_size):
                    fetch(tbl.c[edge.column].in_(chunk))
            for edge in self.plan.self_edges(name):
                frontier = _distinct(r[edge.to_column] for r in rows.values())
                seen: set[Any] = set()
                while frontier:
                    seen.update(frontier)
                    new: list[Row] = []
                    for chunk in _chunks(frontier, self.batch_size):
                        new += fetch(tbl.c[edge.column].in_(chunk))
                    frontier = [v for v in _distinct(r[edge.to_column] for r in new) if v not in seen]
            found[name] = rows
        return found

    # --- erasure -----------------------------------------------------------------------------

    def _erase_table(
        self,
        conn: Connection,
        tbl: Table,
        found: Found,
        remaining: Found,
        now: datetime,
        rules: Mapping[str, RetentionRule],
    ) -> TableErasure:
        name = tbl.name if tbl.schema is None else f"{tbl.schema}.{tbl.name}"
        decl = self._decl[name]
        rows = found[name]
        if not rows:
            remaining[name] = {}
            return TableErasure(table=name)
        if decl.erasure == "keep":
            remaining[name] = dict(rows)
            return TableErasure(table=name, kept=len(rows), kept_reason=decl.keep_reason)

        kept: dict[Any, Row] = {}
        kept_until: date | None = None
        kept_cats: tuple[str, ...] = ()
        cleared: list[str] = []  # columns of other categories, cleared in kept rows
        if decl.exemption is not None:
            rule = rules.get(decl.exemption.rule)
            if rule is None:
                raise SourceUnavailable(f"unknown retention rule {decl.exemption.rule!r}", table=name)
            if rule.data_categories:
                covered = set(rule.data_categories)
                kept_cats = tuple(sorted({f.category for f in decl.fields if f.category in covered}))
                cleared = [f.name for f in decl.fields if f.category not in covered and f.erasure != "keep"]
            if rule.period is not None:
                cutoff = shift(now, rule.period)
                for key, row in rows.items():
                    when = as_utc(row[decl.exemption.date_column])
                    if when is not None and when > cutoff:
                        kept[key] = row
                        until = shift(when, rule.period, sign=1).date()
                        kept_until = until if kept_until is None or until > kept_until else kept_until
        rest = {k: r for k, r in rows.items() if k not in kept}

        # Rows still referenced by rows that stay (kept or anonymised children) cannot be deleted.
        referenced: set[Any] = set()
        for edge in self.plan.out_of(name):
            refs = {r[edge.column] for r in remaining.get(edge.child, {}).values()} - {None}
            referenced |= {k for k, r in rest.items() if r[edge.to_column] in refs}
        if decl.erasure == "delete":
            to_anon = {k: rest[k] for k in referenced}
            stays = {**kept, **to_anon}
            for edge in self.plan.self_edges(name):
                changed = True
                while changed:
                    refs = {r[edge.column] for r in stays.values()} - {None}
                    extra = {k: r for k, r in rest.items() if k not in stays and r[edge.to_column] in refs}
                    changed = bool(extra)
                    to_anon.update(extra)
                    stays.update(extra)
            to_delete = [k for k in rest if k not in to_anon]
            instead = len(to_anon)
        else:
            to_anon, to_delete, instead = rest, [], 0

        pk = tbl.c[decl.primary_key]
        deleted = 0
        for chunk in _chunks(sorted(to_delete, key=_sort_key), self.batch_size):
            deleted += conn.execute(delete(tbl).where(pk.in_(chunk))).rowcount
        self._anonymise(conn, tbl, decl, sorted(to_anon, key=_sort_key))
        if kept and cleared:
            self._anonymise(conn, tbl, decl, sorted(kept, key=_sort_key), only=cleared)
        remaining[name] = {**kept, **to_anon}
        return TableErasure(
            table=name,
            deleted=deleted,
            anonymised=len(to_anon),
            kept=len(kept),
            kept_reason=decl.exemption.reason if kept and decl.exemption else None,
            kept_until=kept_until,
            anonymised_not_deleted=instead,
            kept_categories=kept_cats if kept else (),
            cleared_categories=tuple(sorted({f.category for f in decl.fields if f.name in cleared}))
            if kept
            else (),
        )

    def _anonymise(
        self,
        conn: Connection,
        tbl: Table,
        decl: SourceTable,
        keys: list[Any],
        *,
        only: list[str] | None = None,
    ) -> None:
        """Overwrite the personal fields of these rows (fields' `erasure`; identity columns too).

        `only`: just these fields (and no identity column).
        """
        if not keys:
            return
        actions: dict[str, str] = {f.name: f.erasure for f in decl.fields if only is None or f.name in only}
        if only is None:
            for col in decl.identity.values():
                actions.setdefault(col, "anonymise")
        actions.pop(decl.primary_key, None)
        nulls: dict[str, Any] = {}
        markers: dict[str, int | None] = {}
        for col, action in actions.items():
            if action == "set_null" or (action == "anonymise" and not isinstance(tbl.c[col].type, String)):
                nulls[col] = None
            elif action == "anonymise":
                markers[col] = tbl.c[col].type.length  # type: ignore[attr-defined]
        if not nulls and not markers:
            return
        pk = tbl.c[decl.primary_key]
        name = decl.name
        values: dict[str, Any] = dict(nulls)
        values.update({col: bindparam(f"m_{i}") for i, col in enumerate(markers)})
        stmt = update(tbl).where(pk == bindparam("k_pk")).values(values)
        params = [
            {"k_pk": key}
            | {
                f"m_{i}": marker(source=self.source.id, table=name, key=key, column=col, length=length)
                for i, (col, length) in enumerate(markers.items())
            }
            for key in keys
        ]
        for chunk in _chunks(params, self.batch_size):
            conn.execute(stmt, list(chunk))

    def _safe_error(self, exc: BaseException, table: str | None) -> str:
        """The exception's class and where it happened; never a value from the person's rows."""
        if isinstance(exc, SargsError):
            return exc.message
        kind = (
            type(exc.orig).__name__
            if isinstance(exc, DBAPIError) and exc.orig is not None
            else type(exc).__name__
        )
        where = f" in table {table!r}" if table else ""
        return f"{kind}{where} of source {self.source.id!r}"


def _found_keys(found: Found) -> dict[str, list[Any]]:
    """table -> the primary keys of the rows found, JSON-safe (to note them in Sargs' database)."""
    return {name: [json_safe(k) for k in sorted(rows, key=_sort_key)] for name, rows in found.items() if rows}


def _gone(earlier: Mapping[str, Sequence[Any]], found: Found) -> dict[str, int]:
    """table -> how many of the rows an earlier attempt found are no longer there (it deleted them)."""
    gone = {}
    for name, keys in earlier.items():
        now = {json_safe(k) for k in found.get(name, {})}
        gone[name] = len({k for k in keys if k not in now})
    return gone


def _key_values(column: Column[Any], keys: Sequence[Any]) -> list[Any]:
    """JSON-safe primary keys back as the column's values (UUIDs were stored as text)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return list(keys)
    if kind is uuid.UUID:
        return [uuid.UUID(k) if isinstance(k, str) else k for k in keys]
    return list(keys)


def _distinct(values: Iterable[Any]) -> list[Any]:
    return [v for v in dict.fromkeys(values) if v is not None]


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


class SqlConnectorFactory:
    """Connectors for sql sources, their URL read from `DataSource.url_variable` in `environ`.

    One connector (and connection pool) per source declaration and URL, reused across requests;
    `close` releases every pool.
    """

    def __init__(self, environ: Mapping[str, str], *, region: str = "LV") -> None:
        self.environ = environ
        self.region = region
        self._cache: dict[tuple[str, str], SqlConnector] = {}
        self._lock = threading.Lock()

    def __call__(self, source: DataSource) -> SourceConnector:
        if source.kind != "sql":
            raise ConfigurationError(
                f"data source {source.id!r} is of kind {source.kind!r}; only sql sources have a connector",
                source=source.id,
            )
        url = source_url(source, self.environ)
        key = (source.model_dump_json(), url)
        with self._lock:
            connector = self._cache.get(key)
            if connector is None:
                connector = self._cache[key] = SqlConnector(source, url, region=self.region)
        return connector

    def close(self) -> None:
        """Release every connector's connection pool."""
        with self._lock:
            for connector in self._cache.values():
                connector.close()
            self._cache.clear()


def sql_connector_factory(environ: Mapping[str, str], *, region: str = "LV") -> SqlConnectorFactory:
    """The connector factory bootstrap wires (see SqlConnectorFactory)."""
    return SqlConnectorFactory(environ, region=region)


def _conforms(
    factory: SqlConnectorFactory, connector: SqlConnector
) -> tuple[ConnectorFactory, SourceConnector]:
    """mypy checks here that both implement the ports."""
    return factory, connector
