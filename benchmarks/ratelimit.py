"""The rate limiter's cost per hit (issue 14): memory storage (one process) beside Redis (shared by
every process), for one address and for a flood of distinct addresses.

    python benchmarks/ratelimit.py [--hits 20000] [--redis redis://127.0.0.1:6379/6]

Redis: `--redis` or SARGS_BENCH_REDIS_URL; without either, only memory is measured. Only the
keys this benchmark made (prefix sargs:ratelimit:) are deleted afterwards. Asserts nothing
about time.
"""

from __future__ import annotations

import argparse
import os
import time

from sargs.core.errors import RateLimited
from sargs.integrations.ratelimit import KEY_PREFIX, RateLimits, memory_rate_limits, redis_rate_limits


def per_hit(limits: RateLimits, name: str, hits: int, *, distinct: bool) -> tuple[float, int]:
    limiter = limits.limiter(name, limit=120, per=60.0)
    refused = 0
    started = time.perf_counter()
    for i in range(hits):
        try:
            limiter.hit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if distinct else "203.0.113.7")
        except RateLimited:
            refused += 1
    return (time.perf_counter() - started) / hits, refused


def report(label: str, limits: RateLimits, hits: int) -> None:
    run = f"bench{time.time_ns()}"
    one, refused = per_hit(limits, f"{run}-one", hits, distinct=False)
    many, _ = per_hit(limits, f"{run}-many", hits, distinct=True)
    print(
        f"  {label:<8} one address: {one * 1e6:7.1f} µs/hit ({refused} of {hits} refused at 120/min); "
        f"{hits} addresses: {many * 1e6:7.1f} µs/hit"
    )


def clean(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}:*bench*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--redis", default=os.environ.get("SARGS_BENCH_REDIS_URL"))
    args, _ = parser.parse_known_args()
    print("rate limiter, moving window, per hit:")
    report("memory", memory_rate_limits(), args.hits)
    if not args.redis:
        print("  redis    skipped (pass --redis redis://host:6379/N or set SARGS_BENCH_REDIS_URL)")
        return
    limits = redis_rate_limits(args.redis, key=b"bench")
    try:
        report("redis", limits, args.hits)
    finally:
        limits.close()
        clean(args.redis)


if __name__ == "__main__":
    main()
