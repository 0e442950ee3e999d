"""Telling the people affected by a high-risk breach: a large loyalty source plus Sargs' own people.

    python benchmarks/breach_notices.py [--people 50000] [--own 20000] [--db sqlite|postgres]

Builds the sample loyalty database with `--people` members, puts `--own` people into Sargs for
LMT, registers a high-risk breach of `loyalty.members` and runs the notice job twice: the first
run queues one SMS per person (batches of 500, each its own transaction), the second finds
everyone already told. Prints people per second; asserts nothing about time. PostgreSQL uses
SARGS_BENCH_PG_URL (default database `sargs_reports`) and a schema of its own for the source.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains.access.principal import Principal
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.subjects import notify_affected, source_identities
from sargs.domains.policy.loader import load_policy
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity
from sargs.integrations.sources.samples import create_loyalty
from sargs.integrations.sources.sql import sql_connector_factory
from sargs.migrations import downgrade, upgrade

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PG_URL = os.environ.get("SARGS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sargs_reports")
DPO = Principal(kind="staff", id="bench", role="dpo", controllers=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--own", type=int, default=20_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url, source = f"sqlite:///{Path(tmp) / 'sargs.db'}", f"sqlite:///{Path(tmp) / 'loyalty.db'}"
        else:
            url = PG_URL
            downgrade(wipeable(url), "base")
            from sqlalchemy import create_engine

            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS bench_loyalty CASCADE; CREATE SCHEMA bench_loyalty"))
            engine.dispose()
            source = f"{url}?options=-csearch_path%3Dbench_loyalty"
        upgrade(url)
        t0 = time.perf_counter()
        create_loyalty(source, people=args.people, now=NOW)
        print(f"loyalty source: {args.people} members in {time.perf_counter() - t0:.1f} s")
        policies = [load_policy(p) for p in example_policy_paths()]
        c = build(Settings(database_url=url, demo=True), clock=FixedClock(NOW), policies=policies)
        with c.sessions.begin() as session:
            for start in range(0, args.own, 5000):
                ids = [new_id() for _ in range(start, min(start + 5000, args.own))]
                session.execute(
                    insert(table(Subject)), [{"id": i, "created_at": NOW, "chain_length": 0} for i in ids]
                )
                session.execute(
                    insert(table(SubjectIdentity)),
                    [
                        {
                            "subject_id": i,
                            "kind": "msisdn",
                            "value": f"+3712{start + n:07d}",
                            "verified": False,
                            "created_at": NOW,
                        }
                        for n, i in enumerate(ids)
                    ],
                )
                session.execute(
                    insert(table(SubjectGroup)),
                    [
                        {"subject_id": i, "controller": "lmt", "client_group": "own", "updated_at": NOW}
                        for i in ids
                    ],
                )
            b = breaches.register_breach(
                session=session,
                registry=c.registry,
                controller="lmt",
                values={
                    "title": "bench",
                    "nature": "bench",
                    "aware_at": NOW - timedelta(hours=1),
                    "affected_tables": ["loyalty.members"],
                },
                by=DPO,
                now=NOW,
            )
            breaches.assess_breach(
                session=session,
                registry=c.registry,
                breach_id=b.id,
                risk="high",
                reasoning="benchmark run",
                by=DPO,
                now=NOW,
            )
        policy = c.registry.policy_for("lmt")
        factory = sql_connector_factory({"SARGS_SOURCE_LOYALTY_URL": source})
        for label in ("first run", "re-run"):
            t0 = time.perf_counter()
            report = notify_affected(
                sessions=c.sessions,
                policy=policy,
                breach_id=b.id,
                by=DPO,
                identities=source_identities(
                    policy=policy, affected_tables=["loyalty.members"], connectors=factory
                ),
                include_own_subjects=True,
                secret=b"bench",
                now=c.clock.now,
            )
            took = time.perf_counter() - t0
            print(
                f"{args.db} {label}: {report.seen} identities in {took:.1f} s = {report.seen / took:,.0f}/s; "
                f"sms {report.sms}, e-mail waiting {report.email_unavailable}, already {report.already}, batches {report.batches}"
            )
        c.close()
        if args.db == "postgres":
            downgrade(wipeable(url), "base")


if __name__ == "__main__":
    main()
