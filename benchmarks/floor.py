"""The floor: the least an HTTP service can do for each of Sargs' hot paths, on the same machine.

A minimal Starlette app under uvicorn (same worker count, same load generator as the Sargs run):

- `POST /write`: parse the JSON body, one `INSERT … RETURNING` in its own committed transaction
  (a consent write's body, or an SMS webhook's);
- `GET /check`: one indexed `SELECT` (identity LEFT JOIN consent state, on Sargs' own tables);
- `POST /checks`: the same `SELECT` for up to 1,000 (identity, purpose) pairs in one statement;
- `GET /check-logged`: the `SELECT` and one row inserted for it, committed before the answer (a
  Sargs check must log the access durably: this is the least that costs, one transaction each).

PostgreSQL goes through a psycopg connection pool (psycopg_pool, async), SQLite through sqlite3
with the same pragmas Sargs uses (WAL, synchronous=NORMAL, writers take the lock up front).
No auth, no validation beyond JSON parsing, no audit row, no hash chain: what is left is HTTP,
JSON and one round trip, which is what a ratio against it measures.

    python benchmarks/floor.py --database-url URL --port 8100 --workers 1

Benchmarks start it through `floor_server(url, workers)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent

FLOOR_TABLE = """
CREATE TABLE floor_events (
  id {serial} PRIMARY KEY,
  identity VARCHAR(300) NOT NULL,
  controller VARCHAR(64) NOT NULL,
  purpose VARCHAR(64) NOT NULL,
  action VARCHAR(16) NOT NULL,
  channel VARCHAR(16) NOT NULL,
  body TEXT NOT NULL,
  recorded_at {timestamp} NOT NULL
)"""
INSERT = (
    "INSERT INTO floor_events (identity, controller, purpose, action, channel, body, recorded_at)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) RETURNING id, recorded_at"
)
CHECK = (
    "SELECT i.subject_id, s.status, s.since, s.event_id FROM subject_identities i"
    " LEFT JOIN consent_states s ON s.subject_id = i.subject_id AND s.controller = {p} AND s.purpose = {p}"
    " WHERE i.kind = {p} AND i.value = {p}"
)
# The check and its log row in one statement (PostgreSQL: a data-modifying CTE, as Sargs does).
LOG_ROW = (
    "INSERT INTO floor_events (identity, controller, purpose, action, channel, body, recorded_at)"
    " VALUES ({p}, {p}, {p}, 'check', 'api', '', {p})"
)
CHECK_LOGGED_PG = f"WITH log AS ({LOG_ROW.format(p='%s')}) " + CHECK.format(p="%s")
# PostgreSQL: every pair in one statement, joined by position.
CHECKS_PG = (
    "SELECT q.n, i.subject_id, s.status FROM unnest(%s::text[], %s::text[], %s::text[])"
    " WITH ORDINALITY AS q(kind, value, purpose, n)"
    " LEFT JOIN subject_identities i ON i.kind = q.kind AND i.value = q.value"
    " LEFT JOIN consent_states s ON s.subject_id = i.subject_id AND s.controller = %s AND s.purpose = q.purpose"
    " ORDER BY q.n"
)


def prepare(url: str) -> None:
    """(Re)create the floor's own table; the check reads Sargs' tables as they are."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("DROP TABLE IF EXISTS floor_events")
        con.execute(FLOOR_TABLE.format(serial="INTEGER", timestamp="TEXT"))
        con.commit()
        con.close()
        return
    import psycopg

    with psycopg.connect(pg_dsn(url), autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS floor_events")
        con.execute(FLOOR_TABLE.format(serial="BIGSERIAL", timestamp="TIMESTAMPTZ"))


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _split(identity: str) -> tuple[str, str]:
    kind, _, value = identity.partition(":")
    return kind, value


def create_app(url: str) -> Any:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        local = threading.local()

        def con() -> sqlite3.Connection:
            c = getattr(local, "con", None)
            if c is None:
                c = local.con = sqlite3.connect(path, isolation_level=None, timeout=30)
                c.execute("PRAGMA journal_mode=WAL")
                c.execute("PRAGMA synchronous=NORMAL")
                c.execute("PRAGMA busy_timeout=30000")
            return c

        def write_sync(doc: dict[str, Any]) -> tuple[Any, ...]:
            c = con()
            c.execute("BEGIN IMMEDIATE")
            row = c.execute(INSERT.format(p="?"), _values(doc, datetime.now(UTC).isoformat())).fetchone()
            c.execute("COMMIT")
            return tuple(row)

        def check_sync(q: dict[str, str]) -> tuple[Any, ...] | None:
            kind, value = _split(q["identity"])
            row = con().execute(CHECK.format(p="?"), (q["controller"], q["purpose"], kind, value)).fetchone()
            return None if row is None else tuple(row)

        def check_logged_sync(q: dict[str, str]) -> tuple[Any, ...] | None:
            kind, value = _split(q["identity"])
            c = con()
            c.execute("BEGIN IMMEDIATE")
            row = c.execute(CHECK.format(p="?"), (q["controller"], q["purpose"], kind, value)).fetchone()
            now = datetime.now(UTC).isoformat()
            c.execute(LOG_ROW.format(p="?"), (q["identity"], q["controller"], q["purpose"], now))
            c.execute("COMMIT")
            return None if row is None else tuple(row)

        def checks_sync(doc: dict[str, Any]) -> list[Any]:
            c = con()
            stmt = CHECK.format(p="?")
            out = []
            for item in doc["items"]:  # SQLite has no arrays: one indexed lookup per pair, one connection
                kind, value = _split(item["identity"])
                out.append(c.execute(stmt, (doc["controller"], item["purpose"], kind, value)).fetchone())
            return out

        async def write(request: Request) -> JSONResponse:
            row = await run_in_threadpool(write_sync, json.loads(await request.body()))
            return JSONResponse({"id": row[0], "recorded_at": row[1]}, status_code=201)

        async def check(request: Request) -> JSONResponse:
            row = await run_in_threadpool(check_sync, dict(request.query_params))
            return JSONResponse(_answer(row))

        async def check_logged(request: Request) -> JSONResponse:
            row = await run_in_threadpool(check_logged_sync, dict(request.query_params))
            return JSONResponse(_answer(row))

        async def checks(request: Request) -> JSONResponse:
            rows = await run_in_threadpool(checks_sync, json.loads(await request.body()))
            return JSONResponse({"results": [_answer(r) for r in rows]})

        lifespan = None
    else:
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(pg_dsn(url), min_size=4, max_size=16, open=False)

        @asynccontextmanager
        async def lifespan(app: Any):  # type: ignore[no-untyped-def]
            await pool.open()
            yield
            await pool.close()

        async def write(request: Request) -> JSONResponse:
            doc = json.loads(await request.body())
            async with pool.connection() as c:  # commits on leaving
                cur = await c.execute(INSERT.format(p="%s"), _values(doc, datetime.now(UTC)), prepare=True)
                row = await cur.fetchone()
            assert row is not None
            return JSONResponse({"id": row[0], "recorded_at": row[1].isoformat()}, status_code=201)

        async def check(request: Request) -> JSONResponse:
            q = request.query_params
            kind, value = _split(q["identity"])
            async with pool.connection() as c:
                cur = await c.execute(
                    CHECK.format(p="%s"), (q["controller"], q["purpose"], kind, value), prepare=True
                )
                row = await cur.fetchone()
            return JSONResponse(_answer(row))

        async def check_logged(request: Request) -> JSONResponse:
            q = request.query_params
            kind, value = _split(q["identity"])
            params = (q["identity"], q["controller"], q["purpose"], datetime.now(UTC))
            async with pool.connection() as c:  # commits on leaving
                cur = await c.execute(
                    CHECK_LOGGED_PG, (*params, q["controller"], q["purpose"], kind, value), prepare=True
                )
                row = await cur.fetchone()
            return JSONResponse(_answer(row))

        async def checks(request: Request) -> JSONResponse:
            doc = json.loads(await request.body())
            pairs = [(*_split(i["identity"]), i["purpose"]) for i in doc["items"]]
            kinds, values, purposes = (list(col) for col in zip(*pairs, strict=True))
            async with pool.connection() as c:
                cur = await c.execute(CHECKS_PG, (kinds, values, purposes, doc["controller"]))
                rows = await cur.fetchall()
            return JSONResponse({"results": [_answer(r[1:]) for r in rows]})

    return Starlette(
        routes=[
            Route("/write", write, methods=["POST"]),
            Route("/check", check),
            Route("/check-logged", check_logged),
            Route("/checks", checks, methods=["POST"]),
            Route("/health", lambda r: JSONResponse({"ok": True})),
        ],
        lifespan=lifespan,
    )


def _values(doc: dict[str, Any], now: Any) -> tuple[Any, ...]:
    """A consent write's fields; an SMS webhook's body (from, to, text) is stored the same way."""
    return (
        doc.get("identity") or doc.get("from", ""),
        doc.get("controller", ""),
        doc.get("purpose", ""),
        doc.get("action", ""),
        doc.get("channel", "sms" if "from" in doc else "api"),
        json.dumps(doc),
        now,
    )


def _answer(row: Any) -> dict[str, Any]:
    if row is None or row[0] is None:
        return {"allowed": False, "status": "none"}
    return {"allowed": row[1] == "granted", "status": row[1] or "none"}


def app_from_env() -> Any:
    return create_app(os.environ["FLOOR_DATABASE_URL"])


@contextmanager
def floor_server(url: str, workers: int, port: int) -> Iterator[int]:
    """Run the floor app in `workers` uvicorn processes on `port` until the block ends."""
    prepare(url)
    env = {**os.environ, "FLOOR_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(proc, port, "/health")
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_ready(
    proc: subprocess.Popen[str], port: int, path: str, timeout: float = 300, log: IO[str] | None = None
) -> float:
    """Poll `path` until it answers 200; returns the seconds it took. `log`: where the server's
    stderr goes, if not to `proc.stderr`."""
    import httpx

    started = time.monotonic()
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > timeout or proc.poll() is not None:
            if log is not None:
                log.seek(0)
            stream = log if log is not None else proc.stderr
            raise SystemExit(f"server did not start: {stream.read() if stream else ''}")
        time.sleep(0.05)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.workers > 1:
        uvicorn.run(
            "floor:app_from_env",
            factory=True,
            app_dir=str(HERE),
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
        )
    else:
        uvicorn.run(app_from_env(), port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
