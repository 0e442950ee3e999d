"""The cost of the request observer (issue 14): request id, Prometheus counters and the access log.

    python benchmarks/observability.py [--requests 10000] [--rounds 3]

Calls the ASGI application in-process (no sockets, no HTTP client), with and without the observer,
in the same run and alternating, and prints requests per second (best round) and the cost per
request, for `GET /bench/{item}` (a trivial route added here, access-logged at INFO), `GET /livez`
(a probe: counted, logged at DEBUG, i.e. not written) and `GET /api/v1/health` (one SELECT 1).
The access log is written as JSON lines to /dev/null, so formatting it is counted. Asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sargs.bootstrap import build, create_app, example_policy_paths
from sargs.core.config import Settings
from sargs.core.logging import configure_logging
from sargs.entrypoints.api.middleware import RequestObserver
from sargs.migrations import upgrade


def app_for(url: str, *, observed: bool) -> Any:
    container = build(Settings(database_url=url, demo=True, policy_files=example_policy_paths()))
    app = create_app(container)

    @app.get("/bench/{item}")
    async def bench(item: str) -> dict[str, str]:
        return {"item": item}

    if not observed:  # the middleware stack is built at the first request: drop the observer before
        app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestObserver]
    return app


async def drive(app: Any, path: str, count: int) -> float:
    """Send `count` GET requests straight to the ASGI app; seconds taken."""
    scope_base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.perf_counter()
    for _ in range(count):
        await app(dict(scope_base, state={}), receive, send)
    seconds = time.perf_counter() - started
    assert set(statuses) == {200}, set(statuses)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        apps = {"without": app_for(url, observed=False), "with": app_for(url, observed=True)}
        configure_logging("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115 (after build(), which sets stderr)
        for path, count in (
            ("/bench/item-1", args.requests),
            ("/livez", args.requests),
            ("/api/v1/health", max(args.requests // 10, 100)),
        ):
            best: dict[str, float] = {}
            for app in apps.values():  # warm up: build the middleware stack, fill caches
                asyncio.run(drive(app, path, 200))
            for _ in range(args.rounds):
                for name, app in apps.items():
                    seconds = asyncio.run(drive(app, path, count))
                    best[name] = min(best.get(name, seconds), seconds)
            without, with_ = count / best["without"], count / best["with"]
            cost_us = (best["with"] - best["without"]) / count * 1e6
            print(
                f"GET {path:<15} without observer {without:8.0f} req/s | with {with_:8.0f} req/s | "
                f"cost {cost_us:5.1f} µs per request ({(1 - with_ / without) * 100:4.1f} %)"
            )
        bare_app_cost(args.requests * 5, args.rounds)
    sys.stdout.flush()


def bare_app_cost(count: int, rounds: int) -> None:
    """The observer alone: around an ASGI app that answers 200 at once (access line at INFO)."""
    from fastapi import FastAPI

    from sargs.entrypoints.api.metrics import HttpMetrics
    from sargs.entrypoints.api.middleware import RouteTemplates

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    templates = RouteTemplates(FastAPI())
    variants = {
        "bare": bare,
        "observed": RequestObserver(bare, templates=templates, metrics=HttpMetrics()),
        "observed, no access log": RequestObserver(
            bare, templates=templates, metrics=HttpMetrics(), log_access=False
        ),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, app in variants.items():
            seconds = asyncio.run(drive(app, "/bench/item-1", count))
            best[name] = min(best.get(name, seconds), seconds)
    base = best["bare"]
    for name in ("observed", "observed, no access log"):
        print(f"observer alone ({name}): {(best[name] - base) / count * 1e6:5.1f} µs per request")


if __name__ == "__main__":
    main()
