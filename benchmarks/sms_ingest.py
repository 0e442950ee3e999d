"""SMS keyword ingestion through HTTP (R-SMS-2): messages/s with a provider's duplicate rate.

    python benchmarks/sms_ingest.py [--messages 20000] [--senders 5000] [--db sqlite|postgres|both]
                                    [--workers 2] [--previous DIR]

Signed JSON webhooks from `--senders` numbers (new to Sargs: each first message creates a
subject) with a realistic mix of keywords, STOP forms, bare STOP and garbage; 2% of deliveries
are repeats of an earlier message, as providers retry. Afterwards it checks that nothing was
lost or doubled: one inbound row and one queued reply per distinct message, every event
accounted for, the ledger chain intact. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from consent import BENCH_DIR, PG_URL, against, ensure_pg_database, free_port, sargs_server
from databases import wipeable
from floor import floor_server
from sargs.bootstrap import build, example_policy_paths
from sargs.core.config import Settings
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.sms.signatures import sign_json
from sargs.migrations import downgrade, upgrade

SECRET = "bench-sms-secret"
TEXTS = [  # (text, weight)
    ("JAUNUMI", 30),
    ("jaunumi stop", 12),
    ("Jaunumi!", 8),
    ("JAUNUMISTOP", 4),
    ("METADATI", 8),  # refused: new numbers are other operators' clients
    ("SADARBĪBA", 4),
    ("VIETA STOP", 6),
    ("STOP", 5),
    ("HELP", 5),
    ("sveiki, kas tas?", 8),
    ("JAUNMUI", 5),  # a typo
    ("START", 5),
]


def messages(
    count: int, senders: int, duplicate_rate: float, seed: int = 7
) -> tuple[list[loadgen.Request], int]:
    rng = random.Random(seed)
    texts, weights = zip(*TEXTS, strict=True)
    sent: list[loadgen.Request] = []
    distinct = 0
    for i in range(count):
        if sent and rng.random() < duplicate_rate:
            sent.append(rng.choice(sent))  # the provider retries an earlier delivery
            continue
        body = json.dumps(
            {
                "message_id": f"bench-{i}",
                "from": f"+3712{6000000 + rng.randrange(senders):07d}",
                "to": "29307777",
                "text": rng.choices(texts, weights)[0],
            }
        ).encode()
        header = f"X-Sargs-Signature: {sign_json(SECRET, body)}\r\n"
        sent.append(("POST", "/api/v1/sms/inbound", body, header))
        distinct += 1
    return sent, distinct


def fresh(url: str, settings: Settings) -> None:
    """An empty database at the current schema, with the policies published."""
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        ensure_pg_database(url)
        downgrade(wipeable(url), "base")
    upgrade(url)
    build(settings).close()


def bench(
    label: str,
    url: str,
    count: int,
    senders: int,
    workers: int,
    concurrency: int,
    previous: Path | None = None,
) -> None:
    print(f"\n== {label}: {count:,} deliveries from {senders:,} numbers, 2% duplicates ==", flush=True)
    policies = [str(p) for p in example_policy_paths()]
    settings = Settings(database_url=url, policy_files=policies, demo=True)
    fresh(url, settings)

    requests, distinct = messages(count, senders, 0.02)
    port = free_port()
    with floor_server(url, workers, port):  # the same deliveries, each one INSERT … RETURNING
        floor = loadgen.run(
            "127.0.0.1", port, "unused", [("POST", "/write", r[2]) for r in requests], concurrency=concurrency
        )
    runs = [("", None), ("previous version: ", previous)] if previous is not None else [("", None)]
    for prefix, source in runs:
        if source is not None:
            fresh(url, settings)  # the same deliveries again, to an empty database
        with sargs_server(url, policies, workers, port, source=source):
            result = loadgen.run("127.0.0.1", port, "unused", requests, concurrency=concurrency)
        print(
            against(f"{prefix}SMS webhooks ({workers} proc, {concurrency} conns)", result, floor), flush=True
        )
        accounted(settings, distinct)


def accounted(settings: Settings, distinct: int) -> None:
    """Nothing lost or doubled: one inbound row and one reply per distinct message, every event
    referenced by its message, the chains intact (exits 1 if not)."""
    container = build(settings, publish_policies=False)
    with container.read_sessions.begin() as session:
        inbound = session.scalar(select(func.count()).select_from(SmsInbound)) or 0
        replies = session.scalar(select(func.count()).select_from(SmsOutbox)) or 0
        events = session.scalar(select(func.count()).select_from(ConsentEvent)) or 0
        referenced = sum(len(ids or []) for ids in session.scalars(select(SmsInbound.event_ids)))
        report = verify_ledger(session=session)
    container.close()
    ok = inbound == replies == distinct and events == referenced and report.ok
    print(
        f"{'check':<42} distinct messages {distinct:,}, inbound rows {inbound:,}, replies {replies:,}, "
        f"events {events:,} (referenced {referenced:,}), chain ok={report.ok} -> "
        f"{'nothing lost or doubled' if ok else 'MISMATCH'}",
        flush=True,
    )
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=5_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--previous", type=Path, default=None, help="a checkout of an earlier version, run on the same load"
    )
    # `make bench` passes the consent benchmark's options to every script; ignore what is not ours.
    args, _ = parser.parse_known_args()
    if args.db in ("sqlite", "both"):
        path = BENCH_DIR
        path.mkdir(exist_ok=True)
        bench(
            "SQLite",
            f"sqlite:///{path / 'sms.db'}",
            args.messages,
            args.senders,
            args.workers,
            args.concurrency,
            args.previous,
        )
    if args.db in ("postgres", "both"):
        bench(
            "PostgreSQL", PG_URL, args.messages, args.senders, args.workers, args.concurrency, args.previous
        )


if __name__ == "__main__":
    main()
