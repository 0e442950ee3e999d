"""Declarative base, naming convention, engine and session factory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(model: type[Base]) -> Table:
    """A model's Core table, for hot paths that skip the ORM's statement handling."""
    result = model.__table__
    assert isinstance(result, Table)
    return result


def core_connection(session: Session) -> Connection:
    """The session's connection for Core statements on a hot path (less work per call than
    `session.execute`), with the session's pending ORM changes flushed first, as
    `session.execute` would have done."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


class PerDialect:
    """A statement built once per database dialect (PostgreSQL and SQLite spell upserts apart).

    Hot paths execute prebuilt statements with parameters: building a statement and its cache
    key on every call costs more than the database round trip on a small machine.
    """

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def __call__(self, session: Session) -> Any:
        dialect = session.get_bind().dialect.name
        stmt = self._built.get(dialect)
        if stmt is None:
            stmt = self._built[dialect] = self._build(dialect)
        return stmt


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and serialised writers (BEGIN IMMEDIATE).

    SQL parameters never appear in logs or error messages: they hold phone numbers and codes."""
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        # Enough pooled connections for the server's concurrent requests: one opened past the
        # pool is closed after use, and opening one costs its pragmas again.
        if make_url(url).database not in (None, "", ":memory:") and "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock up front, so two writers never deadlock on upgrade;
            # sessions bound with execution_options(readonly=True) read without blocking writers.
            if conn.get_execution_options().get("readonly"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip per transaction. A connection broken by a database
    # restart fails one request, and SQLAlchemy then replaces every pooled connection.
    kwargs.setdefault("pool_recycle", 3600)
    # Fail fast when the database is down or saturated (the API answers 503 and the caller retries).
    kwargs.setdefault("pool_timeout", 5)
    kwargs.setdefault("connect_args", {"connect_timeout": 3})
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions for one unit of work each; readonly ones never take SQLite's write lock."""
    bind = engine.execution_options(readonly=True) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


def lock_names(session: Session, names: Iterable[str]) -> None:
    """Serialise the transactions that claim any of the same `names`, until they end.

    PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of each name, taken in sorted
    order so two claimants never deadlock (a hash collision only serialises more than needed).
    SQLite needs nothing: its writers already hold the database's write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(
        {int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big", signed=True) for n in names}
    )
    for key in keys:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
