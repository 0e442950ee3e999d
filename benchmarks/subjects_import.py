"""`sargs subjects import` of a large CSV, beside a raw load of the same file in the same run.

    python benchmarks/subjects_import.py [--rows 1000000] [--batch 2000] [--pg URL] [--no-sqlite]

Writes a CSV of --rows LMT clients (msisdn, customer number, controller, client group), then on a
fresh SQLite database (and PostgreSQL with --pg, or SARGS_BENCH_PG_URL) with both example policies:
- `sargs subjects import FILE` as its own process: rows/s and peak RSS (wait4);
- the same command again (nothing to change): rows/s and peak RSS;
- the reference, also its own process: the same file loaded raw into a plain four-column table,
  `COPY ... FROM STDIN` on PostgreSQL, `executemany` of the csv module's rows on SQLite.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from databases import wipeable
from sargs.bootstrap import example_policy_paths
from sargs.migrations import downgrade, upgrade

HERE = Path(__file__).resolve()


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["msisdn", "customer", "controller", "client_group"])
        for i in range(rows):
            out.writerow([f"+3712{i:07d}", f"LMT-{i}", "lmt", "own"])


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{args[:3]} failed ({proc.returncode}): {out[-500:]}")
    return seconds, usage.ru_maxrss / 1024, out


def raw_load(url: str, path: Path) -> None:
    """The reference (run as a child): the file into a plain table, as fast as the driver goes."""
    if url.startswith("sqlite"):
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        db.execute("DROP TABLE IF EXISTS raw_clients")
        db.execute(
            "CREATE TABLE raw_clients (msisdn TEXT, customer TEXT, controller TEXT, client_group TEXT)"
        )
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            with db:
                db.executemany("INSERT INTO raw_clients VALUES (?, ?, ?, ?)", reader)
        db.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_clients")
        conn.execute(
            "CREATE TABLE raw_clients (msisdn TEXT, customer TEXT, controller TEXT, client_group TEXT)"
        )
        with (
            conn.cursor().copy("COPY raw_clients FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        conn.execute("DROP TABLE raw_clients")


def bench(label: str, url: str, path: Path, rows: int, batch: int) -> None:
    if not url.startswith("sqlite"):
        downgrade(wipeable(url), "base")
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARGS_")}
    env.update(SARGS_DATABASE_URL=url, SARGS_POLICY_FILES=",".join(str(p) for p in example_policy_paths()))
    sargs = [
        str(Path(sys.executable).with_name("sargs")),
        "subjects",
        "import",
        str(path),
        "--batch",
        str(batch),
    ]
    first = run_measured(sargs, env)
    again = run_measured(sargs, env)
    raw = run_measured([sys.executable, str(HERE), "--raw", url, str(path)], env)
    print(f"{label}: {rows:,} rows")
    for name, (seconds, rss, _) in (
        ("sargs subjects import", first),
        ("  the same file again", again),
        ("reference: " + ("COPY" if label == "PostgreSQL" else "executemany"), raw),
    ):
        print(f"  {name:<32} {seconds:8.1f} s  {rows / seconds:10,.0f} rows/s  peak RSS {rss:6.0f} MiB")
    print(f"  import / reference time: {first[0] / raw[0]:.1f}x; second run said: {again[2].strip()[:60]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--pg", default=os.environ.get("SARGS_BENCH_PG_URL"))
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--raw", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()
    if args.raw:
        raw_load(args.raw[0], Path(args.raw[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clients.csv"
        write_csv(path, args.rows)
        print(f"file: {path.stat().st_size / 2**20:.0f} MiB, batch {args.batch} rows per transaction")
        if not args.no_sqlite:
            bench("SQLite", f"sqlite:///{Path(tmp) / 'sargs.db'}", path, args.rows, args.batch)
        if args.pg:
            bench("PostgreSQL", args.pg, path, args.rows, args.batch)
        else:
            print("PostgreSQL: skipped (set --pg or SARGS_BENCH_PG_URL)")


if __name__ == "__main__":
    main()
