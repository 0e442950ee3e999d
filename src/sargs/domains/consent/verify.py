"""Verifying the consent ledger's hash chains (R-CON-5): every chain, in one streamed pass.

Subjects and events are read as two streams ordered by subject id and merged, so memory stays flat
however large the ledger. The events are read as plain rows (times as canonical text made by the
database, no ORM objects, not through SQLAlchemy's result layer) and checked with
`chain.row_matches`: per event one dict, one orjson encoding and one SHA-256, the reference
computation (`chain.row_hash`) only where that does not match. Findings come in order (subject
id, chain position), each naming the subject, the chain position and the event id, so
`first_problem` is the first bad event.

Incremental runs from checkpoints are in consent.checkpoints; anchors in consent.anchors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby, pairwise
from typing import Any, Literal

from sqlalchemy import Integer, String, Text, and_, cast, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains.consent.chain import CHAINED_FIELDS, UnhashableEvent, row_hash, row_matches
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.subjects.model import Subject

EVENTS = table(ConsentEvent)
SUBJECTS = table(Subject)
STREAM = 10_000  # rows fetched per round trip

# Positions in a verifier row: the chained fields (chain.CHAINED_FIELDS order), then these.
ID, SUBJECT, POS, PREV, VERSION, HASH, SEQ = 0, 1, 2, 15, 16, 17, 18

Kind = Literal["altered", "unlinked", "misplaced", "inserted", "missing", "head_mismatch", "checkpoint"]


@dataclass(frozen=True)
class LedgerProblem:
    """One break in a subject's chain, named at the first event (chain position) where it shows."""

    subject_id: str
    chain_seq: int | None  # position of the bad event, or of the missing one
    event_id: str | None  # the event stored there (None when it is missing)
    kind: Kind
    detail: str

    def __str__(self) -> str:
        where = f"subject {self.subject_id}"
        if self.chain_seq is not None:
            where += f" event #{self.chain_seq}"
        if self.event_id is not None:
            where += f" ({self.event_id})"
        return f"{where}: {self.detail}"


@dataclass
class VerifyReport:
    subjects: int = 0
    events: int = 0
    findings: list[LedgerProblem] = field(default_factory=list)
    digest: str = ""
    incremental: bool = False  # chains continued from their checkpoints (see consent.checkpoints)
    resumed: int = 0  # chains whose verified part was not read again
    alerts: int = 0  # alert e-mails queued about this report (consent.checkpoints.verify_and_alert)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        """Every finding as a line of text, in verification order (subject id, chain position)."""
        return [str(f) for f in self.findings]

    @property
    def first_problem(self) -> LedgerProblem | None:
        """The first bad event: lowest subject id, then earliest chain position."""
        return self.findings[0] if self.findings else None


def _time_text(column: Any, dialect: str) -> ColumnElement[str]:
    """The canonical UTC text of a stored time (chain.TIME_FORMAT), made by the database."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"', type_=String)
    # SQLite stores naive UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's DATETIME format)
    raw = type_coerce(column, String)
    return func.substr(raw, 1, 10, type_=String) + literal("T") + func.substr(raw, 12, type_=String) + "Z"


def event_columns(dialect: str) -> list[Any]:
    """The verifier's row: the chained fields, then hash_version, hash, seq (positions above)."""
    cols: list[Any] = []
    for name in (*CHAINED_FIELDS, "hash_version", "hash", "seq"):
        column = EVENTS.c[name]
        if name in ("occurred_at", "recorded_at"):
            cols.append(_time_text(column, dialect).label(name))
        elif name == "evidence":  # its stored JSON text, decoded by chain.row_hash
            cols.append(
                cast(column, Text).label(name) if dialect == "postgresql" else type_coerce(column, Text)
            )
        elif name in ("chain_seq", "hash_version", "seq"):
            cols.append(type_coerce(column, Integer).label(name))
        else:
            cols.append(column)
    return cols


def _hash_of(row: Sequence[Any]) -> str | None:
    try:
        return row_hash(row, row[VERSION])
    except UnhashableEvent:
        return None


ChainEnd = Callable[[str, int, int | None, str | None, str | None, bool], object]


def check_chain(
    report: VerifyReport,
    subject_id: str,
    chain: Iterable[Sequence[Any]],
    *,
    recorded: tuple[int, str | None] | None,
    start: tuple[int, int | None, str | None, str | None] = (0, None, None, None),
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int | None, str | None, str | None]:
    """Verify one subject's events in chain order (all, or those after `start`); findings go to
    `report`. `chain` holds verifier rows (`event_columns`); `recorded` is the subject's
    (chain_length, chain_head), None if it records no chain; `start` is (chain_seq, event seq,
    event id, hash) of an already verified event to continue from. Returns the same for the
    chain's last event."""
    rows = chain if isinstance(chain, list) else list(chain)
    before = report.events
    end = _intact(rows, start, recorded)
    if end is not None:  # the common case, in one tight loop; otherwise look closer, below
        report.events += len(rows)
        report.subjects += 1
        if progress is not None and report.events // 10000 != before // 10000:
            progress(report.events)
        return end
    found = report.findings.append
    first_finding = len(report.findings)
    length = recorded[0] if recorded is not None else 0
    expected_seq, prev, last_id, last_global, beyond = start[0] + 1, start[3], start[2], start[1], False
    order: list[tuple[int, str]] = []  # (position, id) of this chain's events so far
    index_of: dict[str | None, int] = {prev: -1}  # hash -> index in `order`; -1: where we started
    start_name = "the start of the chain" if start[0] == 0 else f"the verified checkpoint #{start[0]}"
    events = report.events
    for row in rows:
        events += 1
        seq, event_id, stored = row[POS], row[ID], row[HASH]
        if seq != expected_seq:
            gap = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}..#{seq - 1}"
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "misplaced",
                    f"expected position {expected_seq}: event {gap} was removed, or this event was moved",
                )
            )
            expected_seq = seq
        if row[PREV] != prev:
            earlier = index_of.get(row[PREV])
            if earlier is not None and earlier + 1 < len(order):
                # it links to an older event: the ones after that were put in
                put_seq, put_id = order[earlier + 1]
                target = f"#{order[earlier][0]}" if earlier >= 0 else start_name
                found(
                    LedgerProblem(
                        subject_id,
                        put_seq,
                        put_id,
                        "inserted",
                        f"inserted: the event after it, #{seq} ({event_id}), links past it to {target}",
                    )
                )
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "unlinked",
                    "does not link to the previous event's hash (an event was removed, altered or reordered)",
                )
            )
        computed = _hash_of(row)
        if computed != stored:
            detail = "content does not match its hash (altered)"
            if computed is None:
                detail = f"cannot be hashed as version {row[VERSION]!r} (altered)"
            found(LedgerProblem(subject_id, seq, event_id, "altered", detail))
        if seq > length and not beyond:
            beyond = True
            found(
                LedgerProblem(
                    subject_id,
                    seq,
                    event_id,
                    "inserted",
                    (
                        f"beyond the {length} event(s) the subject records"
                        if length
                        else "the subject records no chain"
                    )
                    + " (inserted, or the subject's chain length was changed)",
                )
            )
        prev, last_id, last_global = stored, event_id, row[SEQ]
        index_of[prev] = len(order)
        order.append((seq, event_id))
        expected_seq += 1
        if progress is not None and events % 10000 == 0:
            progress(events)
    report.events = events
    report.subjects += 1
    last_seq = expected_seq - 1
    if recorded is not None:
        if last_seq < recorded[0]:
            found(
                LedgerProblem(
                    subject_id,
                    last_seq + 1,
                    None,
                    "missing",
                    f"missing: the subject records {recorded[0]} events but the chain ends "
                    f"at #{last_seq} (removed from the end)",
                )
            )
        elif not beyond and recorded[1] != prev:
            found(
                LedgerProblem(
                    subject_id,
                    last_seq,
                    last_id,
                    "head_mismatch",
                    "the last event's hash does not match the subject's recorded chain head "
                    "(this event was replaced, or the chain head was changed)",
                )
            )
    if len(report.findings) - first_finding > 1:  # in chain order (an insertion is seen one event late)
        report.findings[first_finding:] = sorted(
            report.findings[first_finding:], key=lambda f: f.chain_seq or 0
        )
    return last_seq, last_global, last_id, prev


def _intact(
    rows: list[Sequence[Any]],
    start: tuple[int, int | None, str | None, str | None],
    recorded: tuple[int, str | None] | None,
) -> tuple[int, int | None, str | None, str | None] | None:
    """The chain's end (as check_chain returns it) if nothing is wrong with it, else None."""
    position, prev = start[0], start[3]
    for row in rows:
        position += 1
        if row[POS] != position or row[PREV] != prev:
            return None
        prev = row[HASH]
        if not row_matches(row, row[VERSION], prev):
            return None
    if recorded is None:
        return None if rows else start
    if position != recorded[0] or prev != recorded[1]:
        return None
    if not rows:
        return start
    return position, rows[-1][SEQ], rows[-1][ID], prev


def stream_events(session: Session, *, where: Any = None) -> Iterator[Sequence[Any]]:
    """Verifier rows in (subject id, chain position) order, fetched STREAM at a time (a server-side
    cursor on PostgreSQL), in the session's transaction. The driver's own tuples, from a DBAPI
    cursor of the session's connection: every column is already the plain type the verifier
    wants (`event_columns`), and SQLAlchemy's result rows cost more per row than the rest of a
    row's reading."""
    connection = session.connection()
    dialect = connection.dialect
    stmt = select(*event_columns(dialect.name)).order_by(EVENTS.c.subject_id, EVENTS.c.chain_seq)
    if where is not None:
        stmt = stmt.where(where)
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args: Any = tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
    driver: Any = connection.connection.dbapi_connection
    cursor = (
        driver.cursor(name=f"sargs_verify_{new_id()}") if dialect.name == "postgresql" else driver.cursor()
    )
    return _driver_rows(cursor, compiled.string, args)


def _driver_rows(cursor: Any, sql: str, args: Any) -> Iterator[Sequence[Any]]:
    try:
        cursor.execute(sql, args)
        while batch := cursor.fetchmany(STREAM):
            yield from batch
    finally:
        cursor.close()


def default_jobs() -> int:
    """Processes for a large full verification: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def verify_ledger(
    *,
    session: Session,
    progress: Callable[[int], object] | None = None,
    on_chain: ChainEnd | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """Recompute every chain; report altered, removed, inserted or reordered events.

    `progress`, if given, is called with the events checked so far; `on_chain`, if given, with
    (subject id, last chain position, its event seq, event id, hash, ok) after each chain.
    With `jobs` > 1 and a ledger of PARALLEL_FROM events or more on a database file or server,
    chains are verified by that many processes, each a range of subject ids (`_verify_part`);
    the report is the same as one process makes.
    """
    url = session.get_bind().engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if jobs > 1 and not in_memory and (session.scalar(select(func.max(EVENTS.c.seq))) or 0) >= PARALLEL_FROM:
        return _verify_parallel(session, jobs, progress, on_chain)
    report = VerifyReport()
    digest = hashlib.sha256()

    def ended(sid: str, seq: int, gseq: int | None, eid: str | None, h: str | None, ok: bool) -> None:
        if seq:
            digest.update(f"{sid}:{h}\n".encode())
        if on_chain is not None:
            on_chain(sid, seq, gseq, eid, h, ok)

    _verify_range(session, report, None, None, progress, ended)
    report.digest = digest.hexdigest()
    if progress is not None:
        progress(report.events)
    return report


PARALLEL_FROM = 100_000
# Subject ids are random hex (core.ids): these bounds split the chains into 16 even parts.
BOUNDS = [None, *"123456789abcdef", None]


def _verify_parallel(
    session: Session, jobs: int, progress: Callable[[int], object] | None, on_chain: ChainEnd | None
) -> VerifyReport:
    from sargs.domains.consent.parallel import export_snapshot, run_parts

    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    report, digest = VerifyReport(), hashlib.sha256()
    for part, chains in run_parts(url, export_snapshot(session), list(pairwise(BOUNDS)), jobs):
        report.subjects += part.subjects
        report.events += part.events
        report.findings.extend(part.findings)
        for chain in chains:
            if chain[1]:
                digest.update(f"{chain[0]}:{chain[4]}\n".encode())
            if on_chain is not None:
                on_chain(*chain)
        if progress is not None:
            progress(report.events)
    report.digest = digest.hexdigest()
    return report


def _verify_range(
    session: Session,
    report: VerifyReport,
    lo: str | None,
    hi: str | None,
    progress: Callable[[int], object] | None,
    on_chain: ChainEnd,
) -> None:
    """Verify the chains of subject ids in [lo, hi) (everything when both are None) into `report`."""
    found = report.findings.append
    subjects = select(SUBJECTS.c.id, SUBJECTS.c.chain_length, SUBJECTS.c.chain_head).where(
        SUBJECTS.c.chain_length > 0
    )
    bounds: list[Any] = []
    if lo is not None:
        subjects = subjects.where(SUBJECTS.c.id >= lo)
        bounds.append(EVENTS.c.subject_id >= lo)
    if hi is not None:
        subjects = subjects.where(SUBJECTS.c.id < hi)
        bounds.append(EVENTS.c.subject_id < hi)
    heads = iter(session.execute(subjects.order_by(SUBJECTS.c.id).execution_options(yield_per=STREAM)))

    def chain_without_events(head: Any) -> None:
        found(
            LedgerProblem(
                head.id,
                1,
                None,
                "missing",
                f"missing: the subject records {head.chain_length} events but none exist (all removed)",
            )
        )
        on_chain(head.id, 0, None, None, None, False)

    head = next(heads, None)
    events = stream_events(session, where=and_(*bounds) if bounds else None)
    for subject_id, chain in groupby(events, key=lambda r: r[SUBJECT]):
        while head is not None and head.id < subject_id:
            chain_without_events(head)
            head = next(heads, None)
        recorded = head if head is not None and head.id == subject_id else None
        before = len(report.findings)
        last_seq, last_global, last_id, prev = check_chain(
            report,
            subject_id,
            chain,
            recorded=None if recorded is None else (recorded.chain_length, recorded.chain_head),
            progress=progress,
        )
        if recorded is not None:
            head = next(heads, None)
        on_chain(subject_id, last_seq, last_global, last_id, prev, len(report.findings) == before)
    while head is not None:
        chain_without_events(head)
        head = next(heads, None)
