"""Consent ledger at population scale: bulk load, writes, checks, audience export, verification.

    python benchmarks/consent.py [--subjects 1000000] [--db sqlite|postgres|both]

Prints figures; asserts nothing about time. PostgreSQL is taken from SARGS_BENCH_PG_URL
(default: database `sargs_bench` on 127.0.0.1, created if missing).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from databases import wipeable
from floor import floor_server, wait_ready
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.core.ids import new_id
from sargs.domains.consent.chain import event_hash
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.tokens.service import create_token
from sargs.migrations import downgrade, upgrade

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SARGS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sargs_bench")
# SQLite files go here (SARGS_BENCH_DIR), so two checkouts benchmarking at once do not collide.
BENCH_DIR = Path(os.environ.get("SARGS_BENCH_DIR", "/tmp/sargs-bench"))
NOW = datetime.now(UTC).replace(microsecond=0)
BATCH = 50_000


def msisdn(i: int) -> str:
    return f"+371{20_000_000 + i}"


def rows(n: int, policy_version: str):  # type: ignore[no-untyped-def]
    """Subjects with one phone, own clients of lmt, each having granted `offers` by SMS."""
    rng = random.Random(1)
    for i in range(n):
        sid = new_id()
        at = NOW - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        event = {
            "id": new_id(),
            "subject_id": sid,
            "chain_seq": 1,
            "controller": "lmt",
            "purpose": "offers",
            "action": "grant",
            "channel": "sms",
            "actor_type": "subject",
            "actor_id": None,
            "occurred_at": at,
            "recorded_at": at,
            "policy_id": "lmt-group",
            "policy_version": policy_version,
            "evidence": {"sms_message_id": f"SM{i}"},
            "idempotency_key": None,
            "prev_hash": None,
        }
        event["hash"] = event_hash(event)
        yield i, sid, at, event


def bulk_load_sqlite(path: Path, n: int, version: str) -> None:
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    subjects, idents, groups, events, states = [], [], [], [], []

    def flush() -> None:
        con.executemany("INSERT INTO subjects VALUES (?,?,?,?,?)", subjects)
        con.executemany(
            "INSERT INTO subject_identities (subject_id, kind, value, verified, created_at) VALUES (?,?,?,?,?)",
            idents,
        )
        con.executemany(
            "INSERT INTO subject_groups (subject_id, controller, client_group, updated_at) VALUES (?,?,?,?)",
            groups,
        )
        con.executemany(
            "INSERT INTO consent_events (id, subject_id, chain_seq, controller, purpose, action, channel, actor_type,"
            " actor_id, occurred_at, recorded_at, policy_id, policy_version, evidence, idempotency_key, prev_hash, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            events,
        )
        con.executemany("INSERT INTO consent_states VALUES (?,?,?,?,?,?,?,?)", states)
        con.commit()
        for buf in (subjects, idents, groups, events, states):
            buf.clear()

    for i, sid, at, e in rows(n, version):
        t = at.replace(tzinfo=None).strftime(fmt)
        subjects.append((sid, t, None, 1, e["hash"]))
        idents.append((sid, "msisdn", msisdn(i), 1, t))
        groups.append((sid, "lmt", "own", t))
        events.append(
            (e["id"], sid, 1, "lmt", "offers", "grant", "sms", "subject", None, t, t, "lmt-group", version,
             json.dumps(e["evidence"]), None, None, e["hash"])
        )  # fmt: skip
        states.append((sid, "lmt", "offers", "granted", t, e["id"], "sms", t))
        if len(subjects) >= BATCH:
            flush()
    flush()
    con.execute("ANALYZE")
    con.close()


def bulk_load_postgres(url: str, n: int, version: str) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        tables = {
            "subjects": "(id, created_at, erased_at, chain_length, chain_head)",
            "subject_identities": "(subject_id, kind, value, verified, created_at)",
            "subject_groups": "(subject_id, controller, client_group, updated_at)",
            "consent_events": "(id, subject_id, chain_seq, controller, purpose, action, channel, actor_type, actor_id,"
            " occurred_at, recorded_at, policy_id, policy_version, evidence, idempotency_key, prev_hash, hash)",
            "consent_states": "(subject_id, controller, purpose, status, since, event_id, channel, updated_at)",
        }
        data: dict[str, list[tuple[object, ...]]] = {t: [] for t in tables}

        def flush() -> None:
            for table, cols in tables.items():
                with cur.copy(f"COPY {table} {cols} FROM STDIN") as copy:
                    for row in data[table]:
                        copy.write_row(row)
                data[table].clear()
            con.commit()

        for i, sid, at, e in rows(n, version):
            data["subjects"].append((sid, at, None, 1, e["hash"]))
            data["subject_identities"].append((sid, "msisdn", msisdn(i), True, at))
            data["subject_groups"].append((sid, "lmt", "own", at))
            data["consent_events"].append(
                (e["id"], sid, 1, "lmt", "offers", "grant", "sms", "subject", None, at, at, "lmt-group", version,
                 json.dumps(e["evidence"]), None, None, e["hash"])
            )  # fmt: skip
            data["consent_states"].append((sid, "lmt", "offers", "granted", at, e["id"], "sms", at))
            if len(data["subjects"]) >= BATCH:
                flush()
        flush()
        cur.execute("ANALYZE")
        con.commit()


def ensure_pg_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if missing (refusing one a benchmark did not make)."""
    wipeable(url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """Highest resident memory of a process and its children (VmHWM), in MB."""
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


@contextmanager
def sargs_server(url: str, policies: list[str], workers: int, port: int) -> Iterator[subprocess.Popen[str]]:
    """`sargs serve` with `workers` processes on `port` until the block ends."""
    policy_args = [arg for p in policies for arg in ("--policy", p)]
    env = {
        **os.environ,
        "SARGS_SECRET_KEY": "bench-secret-key",
        "SARGS_SMS_WEBHOOK_SECRET": "bench-sms-secret",
    }
    # Its log (one access line per request) goes to a file: a pipe nobody reads would fill and stall it.
    log = (BENCH_DIR / f"server-{port}.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "sargs", "--database-url", url, *policy_args,
         "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
    )  # fmt: skip
    try:
        wait_ready(server, port, "/api/v1/health", log=log)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def against(label: str, sargs: loadgen.Result, floor: loadgen.Result, per: int = 1, unit: str = "/s") -> str:
    """One line: Sargs' rate and latency, the floor's, and Sargs as a share of the floor."""
    ratio = sargs.per_second / floor.per_second if floor.per_second else 0.0
    return (
        f"{label:<34} {sargs.per_second * per:>8,.0f}{unit} (p50 {sargs.percentile(50):5.1f} ms, "
        f"p99 {sargs.percentile(99):5.1f} ms)  floor {floor.per_second * per:>8,.0f}{unit} "
        f"(p99 {floor.percentile(99):5.1f} ms)  ratio {ratio:4.0%}  statuses {dict(sorted(sargs.statuses.items()))}"
    )


def http_against_floor(
    url: str, policies: list[str], token: str, n: int, workers: int, concurrency: int, rng: random.Random
) -> None:
    """Consent writes, single checks and batch checks over HTTP: the floor app, then Sargs, with
    the same process count, load generator, connections and request bodies."""

    def write_body(k: int) -> bytes:
        return loadgen.body({
            "controller": "lmt", "identity": f"msisdn:{msisdn(rng.randrange(n))}", "purpose": "location",
            "action": "grant" if k % 3 else "withdraw", "channel": "api",
        })  # fmt: skip

    bodies = [write_body(k) for k in range(3000)]
    queries = [
        f"controller=lmt&identity=msisdn:%2B{msisdn(rng.randrange(n))[1:]}&purpose=offers"
        for _ in range(10_000)
    ]
    batches = [
        loadgen.body(
            {
                "controller": "lmt",
                "items": [
                    {"identity": f"msisdn:{msisdn(rng.randrange(n))}", "purpose": "offers"}
                    for _ in range(1000)
                ],
            }
        )
        for _ in range(60)
    ]
    port = free_port()
    floor: dict[str, loadgen.Result] = {}
    with floor_server(url, workers, port):
        floor["write"] = loadgen.run(
            "127.0.0.1", port, token, [("POST", "/write", b) for b in bodies], concurrency
        )
        floor["check"] = loadgen.run(
            "127.0.0.1", port, token, [("GET", f"/check?{q}", None) for q in queries], concurrency
        )
        floor["batch"] = loadgen.run(
            "127.0.0.1", port, token, [("POST", "/checks", b) for b in batches], concurrency
        )
    with sargs_server(url, policies, workers, port):
        write = loadgen.run(
            "127.0.0.1", port, token, [("POST", "/api/v1/consents", b) for b in bodies], concurrency
        )
        check = loadgen.run(
            "127.0.0.1",
            port,
            token,
            [("GET", f"/api/v1/consents/check?{q}", None) for q in queries],
            concurrency,
        )
        batch = loadgen.run(
            "127.0.0.1", port, token, [("POST", "/api/v1/consents/checks", b) for b in batches], concurrency
        )
    shape = f"({workers} proc, {concurrency} conns)"
    print(against(f"HTTP consent writes {shape}", write, floor["write"]), flush=True)
    print(against(f"HTTP consent checks {shape}", check, floor["check"]), flush=True)
    print(
        against(f"HTTP batch checks x1000 {shape}", batch, floor["batch"], per=1000, unit=" ans/s"),
        flush=True,
    )


def raw_export(url: str) -> tuple[float, int]:
    """The audience's rows read straight from the database: COPY (SELECT …) TO STDOUT on PostgreSQL,
    a streamed sqlite3 SELECT written as CSV lines on SQLite. (seconds, rows)."""
    query = (
        "SELECT s.subject_id, s.since, i.value FROM consent_states s JOIN subject_identities i"
        " ON i.subject_id = s.subject_id AND i.kind = 'msisdn'"
        " WHERE s.controller = 'lmt' AND s.purpose = 'offers' AND s.status = 'granted'"
    )
    started = time.perf_counter()
    rows = 0
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        sink = io.StringIO()
        for n, row in enumerate(con.execute(query), start=1):
            sink.write(f"{row[0]},{row[1]},{row[2]}\n")
            rows = n
            if n % 10_000 == 0:
                sink.seek(0)
                sink.truncate()
        con.close()
    else:
        import psycopg

        with (
            psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con,
            con.cursor() as cur,
            cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy,
        ):
            for chunk in copy:
                rows += bytes(chunk).count(b"\n")
    return time.perf_counter() - started, rows


def audience_against_copy(url: str, policies: list[str], token: str) -> None:
    copy_s, copy_rows = raw_export(url)
    port = free_port()
    with sargs_server(url, policies, 1, port) as server:
        rss_before = peak_rss_mb(server.pid)
        started = time.perf_counter()
        lines = 0
        with httpx.stream(
            "GET", f"http://127.0.0.1:{port}/api/v1/audiences/offers?controller=lmt&channel=sms&format=csv",
            headers={"Authorization": f"Bearer {token}"}, timeout=300,
        ) as r:  # fmt: skip
            r.raise_for_status()
            for chunk in r.iter_bytes(1 << 16):
                lines += chunk.count(b"\n")
        audience_s = time.perf_counter() - started
        rss_after = peak_rss_mb(server.pid)
    raw = "COPY (SELECT …) TO STDOUT" if url.startswith("postgresql") else "sqlite3 SELECT streamed"
    print(
        f"{'audience export over HTTP (csv, sms)':<34} {audience_s:8.1f} s  {lines - 1:,} rows  "
        f"floor ({raw}) {copy_s:.1f} s {copy_rows:,} rows  Sargs/floor time {audience_s / copy_s:.1f}x  "
        f"server peak RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after",
        flush=True,
    )


def bench(label: str, url: str, n: int, workers: list[int], concurrency: int) -> None:
    print(f"\n== {label}: {n:,} subjects ==", flush=True)
    policies = [str(p) for p in example_policy_paths()]
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    settings = Settings(database_url=url, policy_files=policies, demo=True)
    container = build(settings)
    version = container.registry.policy_for("lmt").version

    started = time.perf_counter()
    if url.startswith("sqlite"):
        bulk_load_sqlite(Path(url.removeprefix("sqlite:///")), n, version)
    else:
        bulk_load_postgres(url, n, version)
    load_s = time.perf_counter() - started
    print(
        f"{'bulk load (subjects+identity+event+state)':<42} {load_s:8.1f} s   ({n / load_s:,.0f} subjects/s)",
        flush=True,
    )

    # Writes through the service, one transaction each (as a request would).
    rng = random.Random(2)
    count = 2000
    started = time.perf_counter()
    for k in range(count):
        i = rng.randrange(n)
        with container.sessions.begin() as session:
            from sargs.domains.subjects.identifiers import Identity
            from sargs.domains.subjects.service import find_subject_id

            sid = find_subject_id(session=session, identity=Identity("msisdn", msisdn(i)))
            assert sid is not None
            record_consent(
                session=session, registry=container.registry, subject_id=sid, controller="lmt",
                purpose="metadata", action="grant" if k % 2 else "withdraw", channel="api",
                actor=Actor("system", "bench"), now=datetime.now(UTC),
            )  # fmt: skip
    svc = time.perf_counter() - started
    print(
        f"{'consent writes through the service':<42} {count / svc:8.0f}/s  (lookup + write, own transaction)"
    )

    with container.sessions.begin() as session:
        token = create_token(session=session, name="bench", role="admin", now=datetime.now(UTC)).secret
    container.close()

    rng = random.Random(3)
    for count in workers:
        http_against_floor(url, policies, token, n, count, concurrency, rng)
    audience_against_copy(url, policies, token)

    container = build(settings, publish_policies=False)
    started = time.perf_counter()
    with container.read_sessions.begin() as session:
        report = verify_ledger(session=session)
    print(
        f"{'ledger verify':<42} {time.perf_counter() - started:8.1f} s   {report.events:,} events, ok={report.ok}"
    )
    container.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--workers", default="1,2", help="server processes, a comma-separated list: each is measured"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    args = parser.parse_args()
    workers = [int(w) for w in str(args.workers).split(",")]
    BENCH_DIR.mkdir(parents=True, exist_ok=True)  # server logs go here for either database
    if args.db in ("sqlite", "both"):
        path = BENCH_DIR
        bench("SQLite", f"sqlite:///{path / 'bench.db'}", args.subjects, workers, args.concurrency)
    if args.db in ("postgres", "both"):
        bench("PostgreSQL", PG_URL, args.subjects, workers, args.concurrency)


if __name__ == "__main__":
    main()
