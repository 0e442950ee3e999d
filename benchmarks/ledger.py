"""`sargs ledger verify` of a large ledger (issues 14, 15, 18), beside references from the same run.

    python benchmarks/ledger.py [--events 1000000] [--per-subject 5] [--db sqlite|postgres] [--no-previous]

Loads `events` consent events (chains of `per-subject`, hashed as version 2), then times:
- the floor: a raw streamed `SELECT` of the same rows in the same order through a bare driver
  cursor, doing nothing with them;
- the previous implementation: ORM-typed rows as dicts, each hashed by `event_hash` (skip it with
  --no-previous: it is the slow one);
- `verify --full` in one process and in `default_jobs()` processes, incremental with nothing new,
  incremental after 1% new events written through `record_consent`;
- `ledger anchor` (verify, seal, heads, Merkle root, signature) and `verify --anchors`.
Prints figures and ratios; asserts nothing about time. PostgreSQL is SARGS_BENCH_PG_URL (see
consent.py). The machine's load shows in wall time: the CPU seconds of this process and its
verifier processes are printed too (on SQLite they include the database's work, on PostgreSQL not).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent import PG_URL, ensure_pg_database
from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.core.ids import new_id
from sargs.domains.consent.anchors import (
    FileSink,
    anchor_ledger,
    load_signing_key,
    new_signing_key,
    verify_anchors,
)
from sargs.domains.consent.chain import CHAINED_FIELDS, event_hash, seal
from sargs.domains.consent.checkpoints import verify_incremental
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import default_jobs
from sargs.migrations import downgrade, upgrade

NOW = datetime.now(UTC).replace(microsecond=0)
EVENT_COLUMNS = (*CHAINED_FIELDS, "hash_version", "hash")


def chains(subjects: int, per: int, version: str):  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    for _ in range(subjects):
        sid, prev = new_id(), None
        at = NOW - timedelta(days=400) + timedelta(seconds=rng.randrange(300 * 86400))
        events = []
        for n in range(1, per + 1):
            e = {
                "id": new_id(),
                "subject_id": sid,
                "chain_seq": n,
                "controller": "lmt",
                "purpose": "offers",
                "action": "grant" if n % 2 else "withdraw",
                "channel": "sms",
                "actor_type": "subject",
                "actor_id": None,
                "occurred_at": at + timedelta(days=n, microseconds=n),
                "recorded_at": at + timedelta(days=n, seconds=1),
                "policy_id": "lmt-group",
                "policy_version": version,
                "evidence": {"sms_message_id": f"SM{sid[:12]}{n}", "keyword": "JAUNUMI"},
                "idempotency_key": None,
                "prev_hash": prev,
            }
            seal(e)
            prev = e["hash"]
            events.append(e)
        yield sid, at, events


def _value(v: Any, dialect: str) -> Any:
    if isinstance(v, datetime):
        return (
            v.isoformat()
            if dialect == "postgresql"
            else v.replace(tzinfo=None).isoformat(" ", "microseconds")
        )
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def load(url: str, subjects: int, per: int, version: str) -> None:
    """Through the driver (COPY on PostgreSQL, executemany on SQLite): loading is not what is measured."""
    engine = create_engine(url)
    dialect = engine.dialect.name
    subj, groups, events = [], [], []
    for sid, at, evs in chains(subjects, per, version):
        subj.append((sid, at, per, evs[-1]["hash"]))
        groups.append((sid, "lmt", "own", at))
        events += [tuple(_value(e[c], dialect) for c in EVENT_COLUMNS) for e in evs]
    tables = [
        ("subjects", ("id", "created_at", "chain_length", "chain_head"), subj),
        ("subject_groups", ("subject_id", "controller", "client_group", "updated_at"), groups),
        ("consent_events", EVENT_COLUMNS, events),
    ]
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, cols, rows in tables:
            if dialect == "postgresql":
                with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([_value(v, dialect) for v in row])
            else:
                marks = ", ".join("?" for _ in cols)
                cur.executemany(
                    f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks})",
                    [tuple(_value(v, dialect) for v in row) for row in rows],
                )
        raw.commit()
    finally:
        raw.close()
    engine.dispose()


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the verifier's processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def previous_verify(session: Any) -> tuple[int, bool]:
    """The verifier before issue 15, in short: typed ORM-column rows as dicts, `event_hash` each."""
    cols = [getattr(ConsentEvent, n) for n in (*CHAINED_FIELDS, "hash_version", "hash", "seq")]
    rows = session.execute(
        select(*cols)
        .order_by(ConsentEvent.subject_id, ConsentEvent.chain_seq)
        .execution_options(yield_per=5000)
    )
    events, ok = 0, True
    for _, chain in groupby((r._asdict() for r in rows), key=lambda f: f["subject_id"]):
        prev, expected = None, 1
        for fields in chain:
            events += 1
            ok &= fields["chain_seq"] == expected and fields["prev_hash"] == prev
            ok &= event_hash(fields) == fields["hash"]
            prev, expected = fields["hash"], expected + 1
    return events, ok


def raw_select(session: Any) -> tuple[int, bool]:
    """The floor: the same rows in the same order through a bare driver cursor (server-side on
    PostgreSQL, as the verifier reads them), each row fetched and dropped."""
    driver = session.connection().connection.dbapi_connection
    postgres = session.get_bind().dialect.name == "postgresql"
    cursor = driver.cursor(name="floor") if postgres else driver.cursor()
    cursor.execute("SELECT * FROM consent_events ORDER BY subject_id, chain_seq")
    rows = 0
    while batch := cursor.fetchmany(10_000):
        rows += len(batch)
    cursor.close()
    return rows, True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--per-subject", type=int, default=5)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--no-previous", action="store_true")
    args = ap.parse_args()
    subjects = args.events // args.per_subject
    if args.db == "postgres":
        url = PG_URL
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.db'}"
    upgrade(url)
    out = Path(tempfile.mkdtemp()) / "anchors.jsonl"
    pem, _ = new_signing_key()
    c = build(
        Settings(
            database_url=url,
            policy_files=example_policy_paths(),
            ledger_anchor_key=pem,
            ledger_anchor_sink=f"file:{out}",
        )
    )
    version = c.registry.policy_for("lmt").version
    started = time.perf_counter()
    load(url, subjects, args.per_subject, version)
    total = subjects * args.per_subject
    print(
        f"{args.db}: loaded {total:,} events in {subjects:,} chains in {time.perf_counter() - started:.1f} s"
    )
    took: list[float] = []  # seconds of each timed run, the floor first

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        started, cpu = time.perf_counter(), _cpu()
        result = fn()
        took.append(time.perf_counter() - started)
        events, ok = result if isinstance(result, tuple) else (result.events, result.ok)
        ratio = f"{took[-1] / took[0]:5.1f}× the raw SELECT" if len(took) > 1 else ""
        print(
            f"  {label:<44} {took[-1]:7.2f} s (cpu {_cpu() - cpu:6.2f} s) {events:>9,} events  ok={ok}  {ratio}"
        )
        return result

    def in_tx(fn: Callable[[Any], Any], read: bool = False) -> Callable[[], Any]:
        def run() -> Any:
            with (c.read_sessions if read else c.sessions).begin() as s:
                return fn(s)

        return run

    timed("raw SELECT of the same rows (floor)", in_tx(raw_select, read=True))
    if not args.no_previous:
        timed("previous verify (ORM rows, event_hash)", in_tx(previous_verify, read=True))
    timed("verify --full, 1 process", in_tx(lambda s: verify_incremental(session=s, now=NOW, full=True)))
    jobs = default_jobs()
    timed(
        f"verify --full, {jobs} processes",
        in_tx(lambda s: verify_incremental(session=s, now=NOW, full=True, jobs=jobs)),
    )
    seconds = took[-1] * 1_000_000 / total
    print(f"  issue 15's target, 1M events in at most 10 s: {seconds:.1f} s per 1M with {jobs} processes")
    timed("verify (incremental, nothing new)", in_tx(lambda s: verify_incremental(session=s, now=NOW)))
    with c.read_sessions() as s:
        ids = list(s.scalars(text("SELECT id FROM subjects ORDER BY id")))
    rng = random.Random(2)
    new = total // 100
    started = time.perf_counter()
    for i in range(0, new, 100):
        with c.sessions.begin() as s:
            for j in range(i, min(i + 100, new)):
                record_consent(
                    session=s,
                    registry=c.registry,
                    subject_id=rng.choice(ids),
                    controller="lmt",
                    purpose="offers",
                    action="grant" if j % 2 else "withdraw",
                    channel="sms",
                    actor=Actor("system", "bench"),
                    now=NOW,
                )
    print(f"  added {new:,} events (1%) in {time.perf_counter() - started:.1f} s")
    timed(
        "verify (incremental, after 1% new events)", in_tx(lambda s: verify_incremental(session=s, now=NOW))
    )
    key = load_signing_key(pem)

    def anchor() -> Any:
        run = anchor_ledger(
            sessions=c.sessions,
            registry=c.registry,
            key=key,
            sink="file",
            deliver=FileSink(out),
            now=lambda: NOW,
            snapshot=args.db == "postgres",
        )
        return run.anchor.events, run.delivered == 1

    timed("ledger anchor (verify, seal, heads, sign)", anchor)
    lines = out.read_text().splitlines()
    timed(
        "verify --anchors (heads against the events)",
        in_tx(lambda s: verify_anchors(session=s, lines=lines, public=key.public_key()), read=True),
    )
    c.close()


if __name__ == "__main__":
    main()
