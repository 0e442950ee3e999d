"""Retention plan and run on a PostgreSQL source table of 10,000,000 rows (R-RET-2).

    python benchmarks/retention.py [--rows 10000000] [--batch-size 10000] [--keep]

Builds the retailer's `shop` tables in a scratch database (`sargs_retention_bench`, or
SARGS_BENCH_RETENTION_URL), with `loyalty_transactions` of --rows rows over twelve years (so about
one in six is past the ten-year rule), loaded with generate_series and indexed on the date column.
Sargs' own tables live in the same database (public schema). Then: the plan (dry run), and a run
in batches while an "application" thread keeps writing to the same tables.

Prints: load time, plan time and counts, run time, rows/s, batch transaction times (the longest
is the longest lock the purge held on the source), the longest source transaction and any lock
waits seen in pg_stat_activity/pg_locks (sampled every 20 ms), and the application writer's
slowest write during the run. Asserts nothing about time. Drops the database afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sargs.bootstrap import EXAMPLES
from sargs.core.db import make_engine, make_session_factory
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.retention.plan import plan
from sargs.domains.retention.rules import SourceRules
from sargs.domains.retention.runs import Progress, run_retention
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from sargs.migrations import upgrade

URL = os.environ.get(
    "SARGS_BENCH_RETENTION_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sargs_retention_bench"
)
SCHEMA = "shop"
CUSTOMERS = 100_000


def recreate_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def load(engine: sa.Engine, rows: int, *, scatter: bool = False) -> None:
    """The shop tables; loyalty_transactions' dates rise with the id over twelve years (append-only),
    or with --scatter fall anywhere in them regardless of the id (expired rows spread over all keys)."""
    age = "random()" if scatter else f"(1 - g::float8 / {rows})"
    with engine.begin() as conn:
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        conn.exec_driver_sql(f"SET search_path = {SCHEMA}")
        conn.exec_driver_sql(
            "CREATE TABLE customers (id integer PRIMARY KEY, customer_no text, email text, phone text,"
            " full_name text, address text, created_at timestamptz NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,"
            " placed_at timestamptz NOT NULL, delivery_name text, delivery_address text, delivery_phone text)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE loyalty_transactions (id bigint NOT NULL,"
            " customer_id integer NOT NULL, occurred_at timestamptz NOT NULL, card_number text)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE email_events (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,"
            " email text, kind text)"
        )
        conn.exec_driver_sql(
            "INSERT INTO customers SELECT g, 'C-' || g, 'c' || g || '@example.lv', NULL, 'Customer ' || g, NULL,"
            f" now() - interval '1 year' FROM generate_series(1, {CUSTOMERS}) g"
        )
        conn.exec_driver_sql(
            "INSERT INTO loyalty_transactions SELECT g, 1 + (g::bigint * 7919) %% "
            f"{CUSTOMERS}, now() - interval '12 years' * {age}, 'L' || g"
            f" FROM generate_series(1::bigint, {rows}) g"
        )
        # Keys, indexes and the foreign key after the bulk insert: one pass each instead of per row.
        conn.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        conn.exec_driver_sql("ALTER TABLE loyalty_transactions ADD PRIMARY KEY (id)")
        conn.exec_driver_sql(
            "ALTER TABLE loyalty_transactions ADD FOREIGN KEY (customer_id) REFERENCES customers (id)"
        )
        conn.exec_driver_sql("CREATE INDEX ix_lt_occurred_at ON loyalty_transactions (occurred_at)")
        conn.exec_driver_sql("CREATE INDEX ix_lt_customer_id ON loyalty_transactions (customer_id)")
        conn.exec_driver_sql("CREATE INDEX ix_orders_customer_id ON orders (customer_id)")
        conn.exec_driver_sql("CREATE INDEX ix_events_customer_id ON email_events (customer_id)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {SCHEMA}.loyalty_transactions")
        conn.exec_driver_sql(f"ANALYZE {SCHEMA}.customers")


class TimedConnector(SqlRetentionConnector):
    """Times every purge: each is one source transaction, so its duration bounds the locks it held."""

    purges: list[float] = []

    def purge(self, *, table: str, first: Any, last: Any) -> int:
        started = time.perf_counter()
        try:
            return super().purge(table=table, first=first, last=last)
        finally:
            TimedConnector.purges.append(time.perf_counter() - started)


class Observer(threading.Thread):
    """Samples pg_stat_activity and pg_locks: the longest open write transaction, and lock waits."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, pool_size=1)
        self.stop = threading.Event()
        self.longest_xact = 0.0
        self.lock_waits = 0
        self.samples = 0

    def run(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            database = conn.exec_driver_sql("select current_database()").scalar_one()
            while not self.stop.is_set():
                age = conn.exec_driver_sql(
                    "select coalesce(max(extract(epoch from clock_timestamp() - xact_start)), 0)"
                    " from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
                    " and backend_xid is not null",
                    (database,),
                ).scalar_one()
                waits = conn.exec_driver_sql("select count(*) from pg_locks where not granted").scalar_one()
                self.longest_xact = max(self.longest_xact, float(age))
                self.lock_waits += int(waits)
                self.samples += 1
                time.sleep(0.02)
        self.engine.dispose()


class Writer(threading.Thread):
    """The shop application: new transactions and customer updates, every 10 ms; records its latency."""

    def __init__(self, url: str, rows: int) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url, pool_size=1)
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.next_id = rows + 1

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                started = time.perf_counter()
                with conn.begin():
                    cid = 1 + self.next_id % CUSTOMERS
                    conn.exec_driver_sql(
                        "insert into loyalty_transactions values (%s, %s, now(), 'new')", (self.next_id, cid)
                    )
                    conn.exec_driver_sql("update customers set address = 'moved' where id = %s", (cid,))
                self.latencies.append(time.perf_counter() - started)
                self.next_id += 1
                time.sleep(0.01)
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--scatter", action="store_true", help="dates not in key order (the harder case)")
    args = parser.parse_args()

    print(
        f"retention benchmark: {args.rows:,} rows in {SCHEMA}.loyalty_transactions, batch {args.batch_size:,}"
    )
    recreate_database(URL)
    try:
        sargs_engine = make_engine(URL)
        upgrade(URL)
        source_url = URL + f"?options=-csearch_path%3D{SCHEMA}"
        source = make_engine(source_url)
        t0 = time.perf_counter()
        load(source, args.rows, scatter=args.scatter)
        print(f"load (generate_series + indexes + analyze): {time.perf_counter() - t0:.1f} s")

        retailer = load_policy(EXAMPLES / "retailer.yaml")
        rules = [r.model_copy(update={"archive_exemption": False}) for r in retailer.retention_rules]
        registry = PolicyRegistry([retailer.model_copy(update={"retention_rules": rules})])
        sessions = make_session_factory(sargs_engine)

        def connectors(r: SourceRules) -> SqlRetentionConnector:
            return TimedConnector(r, source)

        t0 = time.perf_counter()
        with make_session_factory(sargs_engine, readonly=True).begin() as session:
            (shop,) = plan(
                session=session,
                registry=registry,
                connectors=connectors,
                now=datetime.now(UTC),
                policy_id=retailer.id,
                source_id="shop",
            )
        plan_s = time.perf_counter() - t0
        print(f"plan: {plan_s:.2f} s")
        for t in shop.tables:
            c = t.counts
            print(
                f"  {t.table:22} expired {c.expired:>10,}  to purge {c.to_purge:>10,}  blocked {c.blocked:,}"
            )
        expected = shop.to_purge

        observer, writer = Observer(URL), Writer(source_url, args.rows)
        observer.start()
        writer.start()
        last = [time.perf_counter()]

        def progress(p: Progress) -> None:
            if time.perf_counter() - last[0] > 5:
                last[0] = time.perf_counter()
                print(f"  … {p.table}: {p.removed:,} / {p.total or 0:,}", flush=True)

        t0 = time.perf_counter()
        report = run_retention(
            sessions=sessions,
            registry=registry,
            connectors=connectors,
            clock=lambda: datetime.now(UTC),
            policy_id=retailer.id,
            source_id="shop",
            started_by="benchmark",
            batch_size=args.batch_size,
            progress=progress,
        )
        run_s = time.perf_counter() - t0
        writer.stop.set()
        observer.stop.set()
        writer.join()
        observer.join()

        purges = sorted(TimedConnector.purges)
        print(
            f"run: {report.status}, {report.rows_removed:,} rows removed (plan said {expected:,}) in {run_s:.1f} s"
        )
        print(f"  rows/s: {report.rows_removed / run_s:,.0f}")
        if purges:
            p95 = purges[int(len(purges) * 0.95) - 1] if len(purges) >= 20 else purges[-1]
            print(
                f"  batch transactions on the source: {len(purges)}, median {statistics.median(purges) * 1000:.0f} ms,"
                f" p95 {p95 * 1000:.0f} ms, longest {purges[-1] * 1000:.0f} ms (= longest lock held by the purge)"
            )
        print(
            f"  pg_stat_activity: longest open write transaction seen {observer.longest_xact * 1000:.0f} ms;"
            f" pg_locks: {observer.lock_waits} waiting-lock observations in {observer.samples} samples"
        )
        if writer.latencies:
            lat = sorted(writer.latencies)
            print(
                f"  application writes during the run: {len(lat)}, median {statistics.median(lat) * 1000:.1f} ms,"
                f" slowest {lat[-1] * 1000:.0f} ms"
            )
        source.dispose()
        sargs_engine.dispose()
    finally:
        if not args.keep:
            drop_database(URL)


if __name__ == "__main__":
    main()
