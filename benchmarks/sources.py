"""The SQL data-source connector on a large shop: collect and erase one person at a time.

    python benchmarks/sources.py [--people 200000] [--requests 50] [--db sqlite|postgres|both]

Builds the sample shop (customers, ~3 orders each, loyalty transactions, e-mail events) with
`create_shop`, then times `collect` and `erase` for `--requests` different people, identified by
phone and e-mail. Prints figures; asserts nothing about time. PostgreSQL: a schema of its own in
SARGS_BENCH_SOURCES_PG_URL (default database `sargs_sources`), dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from sargs.bootstrap import EXAMPLES
from sargs.domains.policy.loader import load_policy
from sargs.domains.subjects.identifiers import Identity, make_identity
from sargs.integrations.sources.samples import create_shop
from sargs.integrations.sources.sql import SqlConnector

PG_URL = os.environ.get(
    "SARGS_BENCH_SOURCES_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sargs_sources"
)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SCHEMA = "bench_shop"


def figures(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[max(0, round(len(samples) * 0.95) - 1)]
    print(
        f"  {label:8} median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   max {samples[-1]:7.1f} ms"
    )


def people_of(url: str, count: int, total: int) -> list[list[Identity]]:
    """Identities of `count` random customers, read back from the source (phone, e-mail)."""
    rng = random.Random(5)
    ids = rng.sample(range(1, total + 1), count)
    engine = create_engine(url)
    out = []
    with engine.connect() as conn:
        for cid in ids:
            phone, email = conn.execute(
                text("SELECT phone, email FROM customers WHERE id = :id"), {"id": cid}
            ).one()
            idents = [make_identity("msisdn", phone)]
            if email:
                idents.append(make_identity("email", email))
            out.append(idents)
    engine.dispose()
    return out


def run(name: str, url: str, people: int, requests: int) -> None:
    policy = load_policy(EXAMPLES / "retailer.yaml")
    rules = {r.id: r for r in policy.retention_rules}
    print(f"{name}: building a shop of {people:,} customers ...", flush=True)
    started = time.perf_counter()
    stats = create_shop(url, people=people, now=NOW, orders_per_person=3.0, batch=10_000)
    built = time.perf_counter() - started
    rows = stats.rows or {}
    print(f"  built in {built:.0f} s: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    targets = people_of(url, requests, people)
    connector = SqlConnector(policy.data_sources[0], url)
    connector.collect(identities=targets[0])  # reflect once, warm the pool
    collect_ms, erase_ms, found = [], [], 0
    for idents in targets:
        t0 = time.perf_counter()
        access = connector.collect(identities=idents)
        collect_ms.append((time.perf_counter() - t0) * 1000)
        found += access.row_count
    for idents in targets:
        t0 = time.perf_counter()
        result = connector.erase(identities=idents, now=NOW, rules=rules)
        erase_ms.append((time.perf_counter() - t0) * 1000)
        assert result.ok, result.error
    connector.close()
    print(f"  {requests} people, {found / requests:.1f} rows each on average")
    figures("collect", collect_ms)
    figures("erase", erase_ms)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/shop.db", args.people, args.requests)
    if args.db in ("postgres", "both"):
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        sep = "&" if "?" in PG_URL else "?"
        try:
            run("PostgreSQL", f"{PG_URL}{sep}options=-csearch_path%3D{SCHEMA}", args.people, args.requests)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()
    return None


if __name__ == "__main__":
    sys.exit(main())
