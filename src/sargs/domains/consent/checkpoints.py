"""Incremental ledger verification (R-CON-5): each chain continues from its last verified event.

After a verification, `ledger_checkpoints` holds per subject the last event verified (chain
position, event seq and id, hash). The next incremental run reads, per subject, only its head and
its checkpointed event; it re-hashes that event (a checkpoint whose event is gone, moved or
changed is itself a failure, and that chain is then verified again from its start) and verifies
only the events after it, starting from the stored hash, for chains whose head moved, that have
events newer than every checkpoint, or that failed last time (`ok` False: verified again on every
run until repaired). `full=True` ignores checkpoints and verifies everything. Either way the
checkpoints of the chains verified are written afterwards, in the caller's transaction.

What an incremental run cannot see: an event *before* a checkpoint altered or removed while the
checkpointed event itself is untouched. The chain makes that impossible to hide from a full run
(the altered event no longer links to its successor), so run `full=True` now and then (weekly).

`verify_and_alert` is the worker's job: it verifies and, on failure, e-mails every company's DPO
once per distinct set of problems (a `staff_alerts` key over their digest). The e-mail carries
counts and the digest only; `sargs ledger verify --full` names the events.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.i18n import Message
from sargs.domains.alerts.service import in_languages, languages, recipients, send_once
from sargs.domains.consent.chain import row_matches
from sargs.domains.consent.model import ConsentEvent, LedgerCheckpoint
from sargs.domains.consent.verify import (
    HASH,
    ID,
    POS,
    VERSION,
    LedgerProblem,
    VerifyReport,
    check_chain,
    event_columns,
    stream_events,
    verify_ledger,
)
from sargs.domains.consent.verify import (
    SUBJECT as SUBJECT_ID,
)
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.model import Subject

CHECKPOINTS = table(LedgerCheckpoint)
EVENTS = table(ConsentEvent)
BATCH = 200  # chains whose new events are read in one statement
WRITE_BATCH = 50_000
KIND = "ledger_failure"


COLUMNS = ("subject_id", "chain_seq", "event_seq", "event_id", "hash", "ok", "verified_at")
_SET = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
_SQLITE_UPSERT = (
    f"INSERT INTO ledger_checkpoints ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
    f"ON CONFLICT (subject_id) DO UPDATE SET {_SET}"
)
_PG_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS ledger_checkpoints_new "
    "(LIKE ledger_checkpoints INCLUDING DEFAULTS) ON COMMIT DROP"
)
_PG_MERGE = (
    f"INSERT INTO ledger_checkpoints ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "
    f"FROM ledger_checkpoints_new ON CONFLICT (subject_id) DO UPDATE SET {_SET}"
)


class _Writer:
    """Checkpoint rows written in batches as chains are verified, through the driver: a full run
    writes one per chain. SQLite: the driver's executemany of an upsert; PostgreSQL: COPY into a
    temporary table, then one INSERT ... ON CONFLICT from it. A chain written twice keeps its last row."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.rows = session, dict[str, tuple[Any, ...]]()
        self.dialect = session.get_bind().dialect.name
        process = CHECKPOINTS.c.verified_at.type._cached_bind_processor(session.get_bind().dialect)
        self.now = process(now) if process is not None and self.dialect != "postgresql" else now

    def __call__(
        self,
        subject_id: str,
        chain_seq: int,
        event_seq: int | None,
        event_id: str | None,
        hash_: str | None,
        ok: bool,
    ) -> None:
        self.rows[subject_id] = (subject_id, chain_seq, event_seq, event_id, hash_, ok, self.now)
        if len(self.rows) >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = list(self.rows.values()), {}
        conn = self.session.connection()
        if self.dialect != "postgresql":
            conn.exec_driver_sql(_SQLITE_UPSERT, rows)
            return
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_PG_STAGE)
            cursor.execute("TRUNCATE ledger_checkpoints_new")
            with cursor.copy(f"COPY ledger_checkpoints_new ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_PG_MERGE)
        finally:
            cursor.close()


def verify_incremental(
    *,
    session: Session,
    now: datetime,
    full: bool = False,
    progress: Callable[[int], object] | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """Verify the ledger from the checkpoints (everything when `full` or none exist yet) and move
    the checkpoints of the chains verified; `events` counts the events hashed (checkpointed ones
    excluded), `resumed` the chains not read again. `jobs`: processes for a full run (verify)."""
    write = _Writer(session, now)
    watermark = session.scalar(select(func.max(LedgerCheckpoint.event_seq)))
    if full or watermark is None:

        def on_chain(
            sid: str, seq: int, event_seq: int | None, event_id: str | None, h: str | None, ok: bool
        ) -> None:
            if ok:
                write(sid, seq, event_seq, event_id, h, True)
            else:  # nothing of a failed chain is trusted: incremental runs verify it from its start
                write(sid, 0, None, None, None, False)

        report = verify_ledger(session=session, progress=progress, on_chain=on_chain, jobs=jobs)
        write.flush()
        return report
    report = VerifyReport(incremental=True)
    digest = hashlib.sha256()
    newer = set(
        session.scalars(select(ConsentEvent.subject_id).where(ConsentEvent.seq > watermark).distinct())
    )
    subjects, checkpoints = table(Subject), CHECKPOINTS
    dialect = session.get_bind().dialect.name
    # Plain columns (the checkpointed event as a verifier row, `consent.verify.event_columns`): one
    # row per chain, most of them only compared and their checkpointed event re-hashed.
    rows = session.execute(
        select(
            subjects.c.id,
            subjects.c.chain_length,
            subjects.c.chain_head,
            checkpoints.c.chain_seq,
            checkpoints.c.event_seq,
            checkpoints.c.event_id,
            checkpoints.c.hash,
            checkpoints.c.ok,
            *event_columns(dialect),
        )
        .select_from(subjects)
        .outerjoin(checkpoints, checkpoints.c.subject_id == subjects.c.id)
        .outerjoin(EVENTS, EVENTS.c.seq == checkpoints.c.event_seq)
        .where(
            or_(
                subjects.c.chain_length > 0,
                checkpoints.c.subject_id.is_not(None),
                subjects.c.id.in_(newer if len(newer) <= 5000 else []),  # events for a subject with no chain
            )
        )
        .order_by(subjects.c.id)
        .execution_options(yield_per=5000)
    )
    # In subject order: ("done", id, hash) for untouched chains, ("check", id, recorded, start, cp, anchor_ok).
    pending: list[tuple[Any, ...]] = []
    to_check = 0

    def flush() -> None:
        nonlocal to_check
        checks = [p for p in pending if p[0] == "check"]
        chains: dict[str, list[Any]] = {}
        if checks:
            # the IN list lets the database read these chains by index (an OR of 200 pairs alone
            # made PostgreSQL scan every event once per batch)
            after = and_(
                ConsentEvent.subject_id.in_([p[1] for p in checks]),
                or_(
                    *[and_(ConsentEvent.subject_id == p[1], ConsentEvent.chain_seq > p[3][0]) for p in checks]
                ),
            )
            for sid, group in groupby(stream_events(session, where=after), key=lambda r: r[SUBJECT_ID]):
                chains[sid] = list(group)
        for p in pending:
            if p[0] == "done":
                report.subjects += 1
                report.resumed += 1
                digest.update(f"{p[1]}:{p[2]}\n".encode())
                continue
            _, sid, recorded, start, cp, anchor_ok = p
            before = len(report.findings)
            last_seq, last_global, last_id, last_hash = check_chain(
                report, sid, chains.get(sid, []), recorded=recorded, start=start, progress=progress
            )
            if anchor_ok and len(report.findings) == before:
                write(sid, last_seq, last_global, last_id, last_hash, True)
            else:  # keep the position (a broken checkpoint keeps failing alike), verify again next time
                keep = cp if cp is not None else (0, None, None, None)
                write(sid, keep[0], keep[1], keep[2], keep[3], False)
            if last_seq or last_hash is not None:
                digest.update(f"{sid}:{last_hash}\n".encode())
        pending.clear()
        to_check = 0

    for row in rows:
        sid, length, head, cp_seq, cp_event_seq, cp_event_id, cp_hash, cp_ok = row[:8]
        recorded = (length, head) if length > 0 else None
        cp = None if cp_seq is None else (cp_seq, cp_event_seq, cp_event_id, cp_hash)
        start: tuple[int, int | None, str | None, str | None] = (0, None, None, None)
        anchor_ok = True
        if cp is not None and cp[0] > 0:
            problem = _checkpoint_problem(sid, cp, row[8:])
            if problem is None:
                start = cp
            else:
                anchor_ok = False
                report.findings.append(LedgerProblem(sid, cp[0], cp[2], "checkpoint", problem))
        unchanged = (
            cp is not None
            and anchor_ok
            and cp_ok
            and cp[0] > 0
            and recorded == (cp[0], cp[3])
            and sid not in newer
        )
        if unchanged:
            pending.append(("done", sid, cp[3] if cp is not None else None))
        else:
            pending.append(("check", sid, recorded, start, cp, anchor_ok))
            to_check += 1
        if to_check >= BATCH or len(pending) >= 5000:
            flush()
    flush()
    write.flush()
    report.digest = digest.hexdigest()
    if progress is not None:
        progress(report.events)
    return report


def _checkpoint_problem(
    sid: str, cp: tuple[int, int | None, str | None, str | None], event: Any
) -> str | None:
    """Why a checkpointed event (a verifier row, all None when no event has its seq) no longer
    matches its checkpoint, or None if it does."""
    if event[ID] is None:
        return "checkpoint: the verified event at this position is gone (removed, or its seq changed)"
    if event[ID] != cp[2] or event[SUBJECT_ID] != sid or event[POS] != cp[0]:
        return "checkpoint: another event now stands where the verified one was (moved or replaced)"
    if event[HASH] != cp[3] or not row_matches(event, event[VERSION], cp[3]):
        return "checkpoint: the verified event was altered since it was verified"
    return None


SUBJECT = Message("consent.checkpoints", "SUBJECT")
INTRO = Message("consent.checkpoints", "INTRO")
COUNTS = Message("consent.checkpoints", "COUNTS")
CHAINS = Message("consent.checkpoints", "CHAINS")
FAILURE = Message("consent.checkpoints", "FAILURE")
WHAT_NEXT = Message("consent.checkpoints", "WHAT_NEXT")


def failure_digest(report: VerifyReport) -> str:
    """A fingerprint of what failed: the same problems give the same digest, run after run. A broken
    checkpoint comes with what re-verifying its chain found, so it counts only when nothing else was
    found: an incremental and a full run over the same damage then agree."""
    found = [str(f) for f in report.findings if f.kind != "checkpoint"] or report.problems
    return hashlib.sha256("\n".join(found).encode()).hexdigest()


def queue_failure_alerts(
    *,
    session: Session,
    registry: PolicyRegistry,
    report: VerifyReport,
    now: datetime,
    configured: Sequence[str] = (),
) -> int:
    """E-mail every company's DPO about a failed verification, once per failure digest; how many."""
    if report.ok:
        return 0
    fingerprint = failure_digest(report)
    kinds = Counter(f.kind for f in report.findings)
    chains = len({f.subject_id for f in report.findings})
    queued = 0
    for policy in registry.policies:
        language = policy.policy.default_language
        for controller in policy.controllers:
            fields = {"name": controller.short_name, "problems": len(report.findings)}
            parts = []
            for lang in languages(language):
                lines = [INTRO[lang].format(**fields), "", f"{COUNTS[lang]}:"]
                lines += [f"- {kind}: {n}" for kind, n in sorted(kinds.items())]
                lines += [
                    f"{CHAINS[lang]}: {chains}",
                    f"{FAILURE[lang]}: {fingerprint}",
                    "",
                    WHAT_NEXT[lang],
                ]
                parts.append("\n".join(lines))
            if send_once(
                session=session,
                key=f"ledger:{fingerprint[:40]}:{controller.id}",
                kind=KIND,
                to=recipients(controller, configured),
                subject=SUBJECT.plural(language, len(report.findings)).format(**fields),
                text=in_languages(parts),
                now=now,
                controller=controller.id,
            ):
                queued += 1
    return queued


def verify_and_alert(
    *,
    session: Session,
    registry: PolicyRegistry,
    now: datetime,
    full: bool = False,
    configured: Sequence[str] = (),
    progress: Callable[[int], object] | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """The worker's ledger check: verify (incrementally unless `full`), move the checkpoints, and on
    failure e-mail every company's DPO once per distinct failure; `alerts` says how many were queued."""
    report = verify_incremental(session=session, now=now, full=full, progress=progress, jobs=jobs)
    report.alerts = queue_failure_alerts(
        session=session, registry=registry, report=report, now=now, configured=configured
    )
    return report
