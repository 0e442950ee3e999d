"""Start-up and memory of one server process (issue 15): seconds from process start to the first
answer of /api/v1/health, and resident memory then and after some consent checks, beside the
floor app (benchmarks/floor.py) measured the same way in the same run.

    python benchmarks/startup.py [--runs 3] [--db sqlite|postgres|both]

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from consent import BENCH_DIR, PG_URL, ensure_pg_database, free_port, msisdn
from databases import wipeable
from floor import prepare, wait_ready
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.tokens.service import create_token
from sargs.migrations import downgrade, upgrade


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(
    command: list[str], env: dict[str, str], port: int, path: str, load: list[loadgen.Request], token: str
):  # type: ignore[no-untyped-def]
    log = (BENCH_DIR / f"startup-{port}.log").open("w+")
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        wait_ready(proc, port, path, log=log)
        first = time.monotonic() - started
        at_start = rss_mb(proc.pid)
        loadgen.run("127.0.0.1", port, token, load, 8)
        return first, at_start, rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def bench(label: str, url: str, runs: int) -> None:
    print(f"\n== {label} ==", flush=True)
    policies = [str(p) for p in example_policy_paths()]
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    container = build(Settings(database_url=url, policy_files=policies, demo=True))
    with container.sessions.begin() as session:
        token = create_token(session=session, name="bench", role="admin", now=datetime.now(UTC)).secret
    container.close()
    prepare(url)
    rng = random.Random(4)
    queries = [
        f"controller=lmt&identity=msisdn:%2B{msisdn(rng.randrange(1000))[1:]}&purpose=offers"
        for _ in range(500)
    ]
    env = {**os.environ, "SARGS_SECRET_KEY": "bench-secret-key", "SARGS_SMS_WEBHOOK_SECRET": "bench"}
    policy_args = [arg for p in policies for arg in ("--policy", p)]
    rows = {}
    for name, command, path, load in (
        (
            "sargs serve",
            [sys.executable, "-m", "sargs", "--database-url", url, *policy_args, "serve", "--port"],
            "/api/v1/health",
            [("GET", f"/api/v1/consents/check?{q}", None) for q in queries],
        ),
        (
            "floor app",
            [sys.executable, str(Path(__file__).with_name("floor.py")), "--port"],
            "/health",
            [("GET", f"/check?{q}", None) for q in queries],
        ),
    ):
        results = []
        for _ in range(runs):
            port = free_port()
            results.append(
                measure([*command, str(port)], {**env, "FLOOR_DATABASE_URL": url}, port, path, load, token)
            )
        rows[name] = (
            statistics.median(r[0] for r in results),
            statistics.median(r[1] for r in results),
            statistics.median(r[2] for r in results),
        )
    for name, (first, at_start, after) in rows.items():
        print(
            f"{name:<14} start to first answer {first:5.2f} s (median of {runs})  RSS {at_start:5.0f} MB at "
            f"first answer, {after:5.0f} MB after 500 checks",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args, _ = parser.parse_known_args()
    BENCH_DIR.mkdir(exist_ok=True)
    if args.db in ("sqlite", "both"):
        bench("SQLite", f"sqlite:///{BENCH_DIR / 'startup.db'}", args.runs)
    if args.db in ("postgres", "both"):
        bench("PostgreSQL", PG_URL, args.runs)


if __name__ == "__main__":
    main()
