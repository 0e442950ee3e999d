"""Rights requests at volume: intake (with the repeat-request check), the due-soon and overdue
lists, and the daily reminder job, on a Sargs database holding many requests.

    python benchmarks/dsr.py [--requests 20000] [--db sqlite|postgres|both]

Prints figures; asserts nothing about time. PostgreSQL: SARGS_BENCH_DSR_PG_URL (default database
`sargs_dsr`), whose tables are dropped and recreated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from databases import wipeable
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.reminders import remind
from sargs.domains.dsr.service import DsrActor, list_requests
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.identifiers import Identity
from sargs.migrations import downgrade, upgrade

PG_URL = os.environ.get("SARGS_BENCH_DSR_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sargs_dsr")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def bench(url: str, n: int) -> None:
    c = build(
        Settings(database_url=url, demo=True), policies=[load_policy(p) for p in example_policy_paths()]
    )
    rows = []
    for i in range(n):  # spread over the last 60 days, every kind, a third closed
        received = NOW - timedelta(minutes=(i * 4321) % (60 * 24 * 60))
        rows.append(
            {
                "id": new_id(),
                "controller": "lytagra-lv" if i % 2 else "lmt",
                "subject_id": f"{i % (n // 3 + 1):032d}",
                "kind": ("access", "erasure", "portability", "objection")[i % 4],
                "purposes": [],
                "details": "",
                "channel": "in_person",
                "language": "lv",
                "status": "fulfilled" if i % 3 == 0 else "received",
                "identities": [f"email:p{i}@example.lv"],
                "requester": {},
                "callback_urls": [],
                "received_at": received,
                "first_due_at": received + timedelta(days=30),
                "due_at": received + timedelta(days=30),
                "closed_at": received if i % 3 == 0 else None,
            }
        )
    started = time.perf_counter()
    with c.sessions.begin() as session:
        for k in range(0, n, 5000):
            session.execute(insert(table(DsrRequest)), rows[k : k + 5000])
        session.execute(text("ANALYZE"))  # statistics, as a live database has them (autovacuum)
    print(f"  seeded {n} requests in {time.perf_counter() - started:.1f} s")

    # The repeat check looks among the controller's requests of that kind from the last six months
    # (every seeded `lmt` request is an access request: n / 2 of them) for the same subject or
    # identity, after claiming them; the reference is the same intake with the check switched off.
    no_check = PolicyRegistry(
        [
            p.model_copy(update={"deadlines": p.deadlines.model_copy(update={"repeat_request_months": 0})})
            for p in c.registry.policies
        ]
    )
    for label, registry in (("intake", c.registry), ("reference: intake without the repeat check", no_check)):
        samples = []
        for i in range(200):
            t0 = time.perf_counter()
            with c.sessions.begin() as session:
                file_request(
                    session=session,
                    registry=registry,
                    intake=Intake(
                        controller="lmt",
                        kind="access",
                        channel="post",
                        identities=[Identity("email", f"new{i}-{len(label)}@example.lv")],
                        requester={"name": "N", "address": "A", "contact": "C", "signed": True},
                    ),
                    actor=DsrActor("staff", "bench"),
                    now=NOW,
                )
            samples.append(time.perf_counter() - t0)
        print(
            f"  {label}: median {statistics.median(samples) * 1000:.1f} ms, "
            f"max {max(samples) * 1000:.1f} ms (200 requests)"
        )
    for label, kwargs in (
        ("due within 7 days", {"due_within": timedelta(days=7)}),
        ("overdue", {"overdue": True}),
    ):
        t0 = time.perf_counter()
        with c.read_sessions.begin() as session:
            found = list_requests(session=session, now=NOW, limit=100_000, **kwargs)  # type: ignore[arg-type]
        print(f"  list {label}: {len(found)} requests in {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    with c.sessions.begin() as session:
        sent = remind(session=session, now=NOW)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    with c.sessions.begin() as session:
        again = remind(session=session, now=NOW)
    print(
        f"  remind: {len(sent)} reminders in {first * 1000:.0f} ms; "
        f"second run the same day: {len(again)} in {(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    c.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'dsr.db'}"
            upgrade(url)
            print(f"SQLite, {args.requests} requests")
            bench(url, args.requests)
    if args.db in ("postgres", "both"):
        try:
            downgrade(wipeable(PG_URL), "base")
            upgrade(PG_URL)
        except Exception as exc:  # no server: say so and skip
            print(f"PostgreSQL skipped: {type(exc).__name__}", file=sys.stderr)
            return
        print(f"PostgreSQL, {args.requests} requests")
        bench(PG_URL, args.requests)
        downgrade(wipeable(PG_URL), "base")


if __name__ == "__main__":
    main()
