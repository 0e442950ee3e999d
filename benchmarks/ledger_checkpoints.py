"""Ledger verification, full vs incremental (issue 14): the same ledger, in the same run.

    python benchmarks/ledger_checkpoints.py [--events 100000] [--per-subject 5] [--db sqlite|postgres]

Loads `events` consent events (chains of `per-subject` events), verifies it in full (which writes
the checkpoints), adds 1% new events through `record_consent`, then verifies incrementally.
Prints figures; asserts nothing about time. PostgreSQL is SARGS_BENCH_PG_URL (see consent.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent import PG_URL, ensure_pg_database
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains.consent.chain import event_hash
from sargs.domains.consent.checkpoints import verify_incremental
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.subjects.model import Subject, SubjectGroup
from sargs.migrations import downgrade, upgrade

NOW = datetime.now(UTC).replace(microsecond=0)


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
                "occurred_at": at + timedelta(days=n),
                "recorded_at": at + timedelta(days=n),
                "policy_id": "lmt-group",
                "policy_version": version,
                "evidence": {"sms_message_id": f"SM{sid}{n}"},
                "idempotency_key": None,
                "prev_hash": prev,
            }
            e["hash"] = prev = event_hash(e)
            events.append(e)
        yield sid, at, events


def load(url: str, subjects: int, per: int, version: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        subj, groups, events = [], [], []
        for sid, at, evs in chains(subjects, per, version):
            subj.append({"id": sid, "created_at": at, "chain_length": per, "chain_head": evs[-1]["hash"]})
            groups.append({"subject_id": sid, "controller": "lmt", "client_group": "own", "updated_at": at})
            events += evs
        conn.execute(insert(table(Subject)), subj)
        conn.execute(insert(table(SubjectGroup)), groups)
        for i in range(0, len(events), 20_000):
            conn.execute(insert(table(ConsentEvent)), events[i : i + 20_000])
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--per-subject", type=int, default=5)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = ap.parse_args()
    subjects = args.events // args.per_subject
    if args.db == "postgres":
        url = PG_URL
        ensure_pg_database(url)
        downgrade(url, "base")
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.db'}"
    upgrade(url)
    c = build(Settings(database_url=url, policy_files=example_policy_paths()))
    version = c.registry.policy_for("lmt").version
    started = time.perf_counter()
    load(url, subjects, args.per_subject, version)
    print(
        f"{args.db}: loaded {subjects * args.per_subject:,} events in {subjects:,} chains in {time.perf_counter() - started:.1f} s"
    )

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        report = fn()
        took = time.perf_counter() - started
        print(
            f"{label:<46} {took:8.2f} s   {report.events:>8,} events hashed, {report.subjects:,} chains, ok={report.ok}"
        )
        return report

    def full() -> object:
        with c.sessions.begin() as s:
            return verify_incremental(session=s, now=NOW, full=True)

    def plain() -> object:
        with c.read_sessions.begin() as s:
            return verify_ledger(session=s)

    def incremental() -> object:
        with c.sessions.begin() as s:
            return verify_incremental(session=s, now=NOW)

    timed("verify_ledger (full, read-only, as before)", plain)
    timed("verify --full (writes the checkpoints)", full)
    timed("verify (incremental, nothing new)", incremental)
    with c.read_sessions() as s:
        ids = list(s.scalars(text("SELECT id FROM subjects ORDER BY id")))
    rng = random.Random(2)
    new = subjects * args.per_subject // 100
    started = time.perf_counter()
    for i in range(new):
        with c.sessions.begin() as s:
            record_consent(
                session=s,
                registry=c.registry,
                subject_id=rng.choice(ids),
                controller="lmt",
                purpose="offers",
                action="grant" if i % 2 else "withdraw",
                channel="sms",
                actor=Actor("system", "bench"),
                now=NOW,
            )
    print(f"added {new:,} events (1%) in {time.perf_counter() - started:.1f} s")
    timed("verify (incremental, after 1% new events)", incremental)
    timed("verify --full (the same ledger)", full)
    c.close()


if __name__ == "__main__":
    main()
