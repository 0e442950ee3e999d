"""What a 1 s token cache costs beside the old 30 s one (issue 14): the API's token check
(`sargs.entrypoints.api.deps.get_principal`) timed with cache TTLs of 30 s (before), 1 s (now)
and 0 (a query on every request), in one run, on the same database.

    python benchmarks/token_cache.py [--seconds 3] [--db sqlite|postgres|both]

For each TTL it checks one token as fast as it can for `--seconds` and prints checks per second,
token queries made and the mean cost of a check; then the measured cost of a cache hit and of a
miss (one token query), and from them the mean cost per check at a steady request rate.
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.security import HTTPAuthorizationCredentials

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent import PG_URL, ensure_pg_database
from databases import wipeable
from sargs.bootstrap import build
from sargs.core.config import Settings
from sargs.domains.tokens.service import create_token
from sargs.entrypoints.api import deps
from sargs.migrations import downgrade, upgrade

TTLS = [("before: 30 s cache", 30.0), ("now: 1 s cache", deps.TOKEN_CACHE_SECONDS), ("no cache", 0.0)]
RATES = [10, 100, 1000]


def prepare(url: str) -> Any:
    if url.startswith("postgresql"):
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    container = build(Settings(database_url=url, demo=True), policies=[])
    with container.sessions.begin() as session:
        secret = create_token(session=session, name="bench", role="admin", now=container.clock.now()).secret
    return container, secret


def checker(container: Any, secret: str, ttl: float) -> tuple[Any, list[int]]:
    cache = deps.TokenCache(ttl=ttl)
    request: Any = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(token_cache=cache)), state=SimpleNamespace()
    )
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)
    queries = [0]
    real = deps.authenticate_token

    def counting(**kwargs: Any) -> Any:
        queries[0] += 1
        return real(**kwargs)

    def check() -> None:
        deps.authenticate_token = counting  # type: ignore[assignment]
        try:
            deps.get_principal(request, container, credentials)
        finally:
            deps.authenticate_token = real

    return check, queries


def run(url: str, seconds: float) -> None:
    container, secret = prepare(url)
    try:
        print(f"  {'cache':<20} {'checks/s':>10} {'queries':>8} {'mean µs/check':>14}")
        for label, ttl in TTLS:
            check, queries = checker(container, secret, ttl)
            count, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds:
                check()
                count += 1
            print(f"  {label:<20} {count / elapsed:>10,.0f} {queries[0]:>8} {elapsed / count * 1e6:>14.1f}")
        hit_check, _ = checker(container, secret, 3600.0)
        hit_check()
        hit = timed(hit_check, 20_000)
        miss = timed(checker(container, secret, 0.0)[0], 300)
        print(f"  one check: cache hit {hit * 1e6:.1f} µs, miss (token query) {miss * 1e6:.0f} µs")
        print(f"  mean cost per check at a steady rate of one token, per process ({'µs':>2}):")
        print(f"  {'requests/s':>12} " + " ".join(f"{label:>20}" for label, _ in TTLS))
        for rate in RATES:
            cells = []
            for _, ttl in TTLS:
                misses_per_check = 1.0 if ttl == 0 else min(1.0, 1.0 / (rate * ttl))
                cells.append(f"{(hit + misses_per_check * (miss - hit)) * 1e6:>20.1f}")
            print(f"  {rate:>12} " + " ".join(cells))
        print(
            f"  token queries per active token per process: {1 / 30:.3f}/s before, "
            f"{1 / deps.TOKEN_CACHE_SECONDS:.0f}/s now"
        )
    finally:
        container.close()


def timed(fn: Any, times: int) -> float:
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(times):
            fn()
        samples.append((time.perf_counter() - started) / times)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args, _ = parser.parse_known_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            run(f"sqlite:///{tmp}/bench.db", args.seconds)
    if args.db in ("postgres", "both"):
        try:
            ensure_pg_database(PG_URL)
        except Exception as exc:  # no PostgreSQL here: say so and go on
            print(f"PostgreSQL: skipped ({type(exc).__name__}; set SARGS_BENCH_PG_URL)")
            return
        print("PostgreSQL")
        run(PG_URL, args.seconds)


if __name__ == "__main__":
    main()
