"""Consent ledger at population scale: bulk load, writes, checks, audience export, verification.

    python benchmarks/consent.py [--subjects 1000000] [--db sqlite|postgres|both]

Prints figures; asserts nothing about time. PostgreSQL is taken from SARGS_BENCH_PG_URL
(default: database `sargs_bench` on 127.0.0.1, created if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
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
        con.executemany("INSERT INTO subject_groups VALUES (?,?,?,?)", groups)
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
    import psycopg

    base, _, name = url.rpartition("/")
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            con.execute(f'CREATE DATABASE "{name}"')


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


def bench(label: str, url: str, n: int, workers: int) -> None:
    print(f"\n== {label}: {n:,} subjects ==", flush=True)
    policies = [str(p) for p in example_policy_paths()]
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(url, "base")
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

    policy_args = [arg for p in policies for arg in ("--policy", p)]
    port = free_port()
    env = {
        **os.environ,
        "SARGS_SECRET_KEY": "bench-secret-key",
        "SARGS_SMS_WEBHOOK_SECRET": "bench-sms-secret",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "sargs", "--database-url", url, *policy_args,
         "serve", "--port", str(port), "--workers", str(workers)],
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

        writes = [
            ("POST", "/api/v1/consents", loadgen.body({
                "controller": "lmt", "identity": f"msisdn:{msisdn(rng.randrange(n))}", "purpose": "location",
                "action": "grant" if k % 3 else "withdraw", "channel": "api",
            }))
            for k in range(3000)
        ]  # fmt: skip
        print(
            loadgen.run("127.0.0.1", port, token, writes).line(f"HTTP consent writes ({workers} workers)"),
            flush=True,
        )

        checks = [
            (
                "GET",
                f"/api/v1/consents/check?controller=lmt&identity=msisdn:%2B{msisdn(rng.randrange(n))[1:]}&purpose=offers",
                None,
            )
            for _ in range(10_000)
        ]
        print(
            loadgen.run("127.0.0.1", port, token, checks).line(f"HTTP consent checks ({workers} workers)"),
            flush=True,
        )

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
        print(
            f"{'audience export over HTTP (csv, sms)':<42} {audience_s:8.1f} s   {lines - 1:,} rows, "
            f"server peak RSS {rss_before:.0f} MB before, {peak_rss_mb(server.pid):.0f} MB after"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

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
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        path = Path("/tmp/sargs-bench")
        path.mkdir(exist_ok=True)
        bench("SQLite", f"sqlite:///{path / 'bench.db'}", args.subjects, args.workers)
    if args.db in ("postgres", "both"):
        bench("PostgreSQL", PG_URL, args.subjects, args.workers)


if __name__ == "__main__":
    main()
