"""Audience export at population scale, beside the database's own floor (issue 15).

    python benchmarks/audience.py [--subjects 1000000] [--db sqlite|postgres|both] [--reuse]

Loads N subjects with a granted `offers` consent and a phone (consent.py's bulk loaders), starts
`sargs serve` and times GET /api/v1/audiences/offers?controller=lmt&channel=sms&format=csv beside
the floor measured in the same run: a raw `COPY (SELECT …) TO STDOUT` on PostgreSQL, a streamed
sqlite3 SELECT written as CSV lines on SQLite. Floor and export are taken in turns (--repeat times;
the machine is shared) and the best of each is compared. Also prints the server's peak resident
memory before and after the exports. Prints figures; asserts nothing about time.

--reuse keeps a database that already holds exactly N audience rows (no reload), for quick reruns.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent import (
    BENCH_DIR,
    PG_URL,
    bulk_load_postgres,
    bulk_load_sqlite,
    ensure_pg_database,
    free_port,
    peak_rss_mb,
    raw_export,
    sargs_server,
)
from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.tokens.service import create_token
from sargs.migrations import downgrade, upgrade

EXPORT = "/api/v1/audiences/offers?controller=lmt&channel=sms&format=csv"


def audience_rows(url: str) -> int:
    """Rows the floor query finds now (0 when the database is missing or empty)."""
    try:
        return raw_export(url)[1]
    except Exception:  # a missing database or schema: load afresh
        return -1


def prepare(url: str, n: int, reuse: bool) -> str:
    """A database holding N audience rows; returns an admin token's secret."""
    policies = [str(p) for p in example_policy_paths()]
    sqlite_path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
    if not url.startswith("sqlite"):
        ensure_pg_database(url)
    loaded = reuse and audience_rows(url) == n
    if not loaded:
        if sqlite_path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        else:
            downgrade(wipeable(url), "base")
    upgrade(url)
    settings = Settings(database_url=url, policy_files=policies, demo=True)
    container = build(settings)
    try:
        if not loaded:
            version = container.registry.policy_for("lmt").version
            started = time.perf_counter()
            if sqlite_path is not None:
                bulk_load_sqlite(sqlite_path, n, version)
            else:
                bulk_load_postgres(url, n, version)
            print(f"{'bulk load':<34} {time.perf_counter() - started:8.1f} s  {n:,} subjects", flush=True)
        else:
            print(f"{'reusing the loaded database':<34} {n:,} subjects", flush=True)
        with container.sessions.begin() as session:
            return create_token(
                session=session, name="bench-audience", role="admin", now=datetime.now(UTC)
            ).secret
    finally:
        container.close()


def export_over_http(port: int, token: str) -> tuple[float, int, int]:
    """(seconds, data rows, bytes) of one CSV export read as fast as the client can."""
    started = time.perf_counter()
    lines = size = 0
    with httpx.stream(
        "GET", f"http://127.0.0.1:{port}{EXPORT}", headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(1 << 16):
            lines += chunk.count(b"\n")
            size += len(chunk)
    return time.perf_counter() - started, lines - 1, size


def bench(label: str, url: str, n: int, reuse: bool, repeat: int) -> None:
    print(f"\n== {label}: {n:,} subjects ==", flush=True)
    token = prepare(url, n, reuse)
    policies = [str(p) for p in example_policy_paths()]
    floors: list[float] = []
    exports: list[float] = []
    floor_rows = http_rows = size = 0
    port = free_port()
    with sargs_server(url, policies, 1, port) as server:
        rss_before = peak_rss_mb(server.pid)
        # Floor and export taken in turns, so a busy spell on the machine hits both alike.
        for _ in range(repeat):
            floor_s, floor_rows = raw_export(url)
            floors.append(floor_s)
            http_s, http_rows, size = export_over_http(port, token)
            exports.append(http_s)
        rss_after = peak_rss_mb(server.pid)
    floor_s, http_s = min(floors), min(exports)
    raw = "COPY (SELECT …) TO STDOUT" if url.startswith("postgresql") else "sqlite3 SELECT streamed"
    each = ", ".join(f"{s:.2f}" for s in exports)
    print(
        f"{'audience export over HTTP (csv, sms)':<34} {http_s:8.2f} s  {http_rows:,} rows  {size / 1e6:,.0f} MB  "
        f"({http_rows / http_s:,.0f} rows/s; runs {each} s)",
        flush=True,
    )
    each = ", ".join(f"{s:.2f}" for s in floors)
    print(f"{'floor: ' + raw:<34} {floor_s:8.2f} s  {floor_rows:,} rows  (runs {each} s)", flush=True)
    print(f"{'Sargs/floor time (best of each)':<34} {http_s / floor_s:8.2f}x", flush=True)
    print(
        f"{'server peak RSS':<34} {rss_before:8.0f} MB before, {rss_after:.0f} MB after {repeat} exports",
        flush=True,
    )
    if http_rows != floor_rows:
        print(f"!! the export has {http_rows:,} rows, the floor {floor_rows:,}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reuse", action="store_true", help="keep a database already holding N subjects")
    parser.add_argument("--repeat", type=int, default=3, help="floor and export each measured this often")
    args, _ = parser.parse_known_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if args.db in ("sqlite", "both"):
        bench("SQLite", f"sqlite:///{BENCH_DIR / 'audience.db'}", args.subjects, args.reuse, args.repeat)
    if args.db in ("postgres", "both"):
        url = PG_URL
        if url.startswith("sqlite"):
            raise SystemExit("SARGS_BENCH_PG_URL must name a PostgreSQL database")
        bench("PostgreSQL", url, args.subjects, args.reuse, args.repeat)


if __name__ == "__main__":
    main()
