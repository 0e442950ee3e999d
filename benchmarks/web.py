"""Website visitors (issue 7): cookie choices recorded over HTTP (per second) and access-log
lines ingested by `sargs weblog ingest` (lines per second).

    python benchmarks/web.py [--choices 3000] [--lines 100000] [--db sqlite|postgres|both]

Short by default (well under a minute per database on a 2-core machine). Prints figures and
checks that every choice and every distinct line was stored once; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from consent import PG_URL, ensure_pg_database, free_port
from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.web.model import CookieConsent, WebAccessLog
from sargs.migrations import downgrade, upgrade

CATEGORIES = [[], ["analytics"], ["analytics", "marketing"], ["marketing"]]


def choices(count: int, seed: int = 7) -> list[loadgen.Request]:
    rng = random.Random(seed)
    out: list[loadgen.Request] = []
    for i in range(count):
        body = json.dumps(
            {"visitor_id": f"bench{i:011d}x", "controller": "lmt", "accepted": rng.choice(CATEGORIES)}
        ).encode()
        gpc = "Sec-GPC: 1\r\n" if rng.random() < 0.1 else ""
        out.append(("POST", "/api/v1/web/cookie-consents", body, gpc))
    return out


def write_log(path: Path, lines: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    pages = ["/", "/privatums", "/internets", "/atrums?x=1", "/veikals/telefoni", "/kontakti"]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(lines):
            at = start + timedelta(seconds=i // 3)
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
            handle.write(
                f'{ip} - - [{stamp}] "GET {rng.choice(pages)} HTTP/1.1" 200 {rng.randrange(200, 90000)} '
                f'"https://www.google.com/search?q=lmt" "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"\n'
            )
            if i % 997 == 0:
                handle.write("garbage line that is not a log entry\n")


def bench(label: str, url: str, n_choices: int, n_lines: int, concurrency: int) -> None:
    print(f"\n== {label} ==", flush=True)
    policies = [str(p) for p in example_policy_paths()]
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    settings = Settings(database_url=url, policy_files=policies, demo=True)
    build(settings).close()

    port = free_port()
    env = {**os.environ, "SARGS_SECRET_KEY": "bench-secret-key", "SARGS_SMS_WEBHOOK_SECRET": "bench",
           "SARGS_WEB_RATE_LIMIT_PER_MINUTE": str(10 * n_choices)}  # fmt: skip
    policy_args = [arg for p in policies for arg in ("--policy", p)]
    server = subprocess.Popen(
        [sys.executable, "-m", "sargs", "--database-url", url, *policy_args, "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.3)
        result = loadgen.run("127.0.0.1", port, "unused", choices(n_choices), concurrency=concurrency)
        print(result.line(f"cookie choices over HTTP (1 worker, {concurrency} conns)"), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)

    log = Path("/tmp/sargs-bench/access.log")
    write_log(log, n_lines)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sargs", "--database-url", url, *policy_args, "weblog", "ingest", str(log)],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"{'access-log ingest (sargs weblog ingest)':<42} {n_lines / seconds:>10,.0f} lines/s "
          f"({n_lines:,} lines in {seconds:.1f} s, process start included)", flush=True)  # fmt: skip

    container = build(settings, publish_policies=False)
    with container.read_sessions.begin() as session:
        stored_choices = session.scalar(select(func.count()).select_from(CookieConsent)) or 0
        stored_lines = session.scalar(select(func.count()).select_from(WebAccessLog)) or 0
    container.close()
    ok = stored_choices == n_choices and stored_lines == n_lines
    print(f"{'check':<42} choices {stored_choices:,}/{n_choices:,}, lines {stored_lines:,}/{n_lines:,} "
          f"-> {'all stored once' if ok else 'MISMATCH'}", flush=True)  # fmt: skip
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--choices", type=int, default=3_000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--concurrency", type=int, default=16)
    args, _ = parser.parse_known_args()
    Path("/tmp/sargs-bench").mkdir(exist_ok=True)
    if args.db in ("sqlite", "both"):
        bench("SQLite", "sqlite:////tmp/sargs-bench/web.db", args.choices, args.lines, args.concurrency)
    if args.db in ("postgres", "both"):
        bench("PostgreSQL", PG_URL, args.choices, args.lines, args.concurrency)


if __name__ == "__main__":
    main()
