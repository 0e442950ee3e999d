"""The access log sealed after the fact (docs/ledger.md, "The access log").

Writing an access row stays one INSERT (no read of a previous hash: batch checks write many rows
per request). Instead `seal_access_log` runs later (the ledger anchor job) and extends a running
hash over the rows in id order:

    h_0 = 64 zeros;  h_n = SHA-256(h_{n-1} as 64 hex characters ‖ RFC 8785 JSON of row n)

and appends an `access_seals` row (id of the last row sealed, rows so far, h). Each anchor carries
the latest seal, signed. `verify_access_log` recomputes the hash from the first row and compares it
with every seal: a sealed row altered, removed or put in afterwards shows at the first seal after
it, and a rewrite of the seals themselves shows against the anchor.

The window: rows newer than the last seal are not yet covered (up to one anchor interval), and
rows are sealed only once LAG old, so that a transaction still open with a lower id commits first.
A transaction open longer than LAG can commit a row below a seal; it is reported as inserted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.domains.audit.model import AccessLogEntry, AccessSeal
from sargs.domains.consent.chain import canonical_json, canonical_time

LOG = table(AccessLogEntry)
SEALS = table(AccessSeal)
GENESIS = "0" * 64
LAG = timedelta(minutes=1)
STREAM = 10_000
COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "role",
    "subject_id",
    "controller",
    "route",
    "action",
    "reason",
    "outcome",
)


@dataclass(frozen=True)
class SealPoint:
    """The access log sealed up to row `upto` (0: nothing yet): `rows` rows, running hash `hash`."""

    upto: int
    rows: int
    hash: str


NOTHING = SealPoint(0, 0, GENESIS)


@dataclass
class AuditReport:
    rows: int = 0
    hash: str = GENESIS  # the running hash after the last row read
    seals: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def link(previous: str, row: Sequence[Any]) -> str:
    """The running hash after one more row (its values in COLUMNS order)."""
    doc = dict(zip(COLUMNS, row, strict=True))
    doc["at"] = canonical_time(doc["at"])
    return hashlib.sha256(previous.encode("ascii") + canonical_json(doc)).hexdigest()


def _rows(session: Session, after: int, upto: int | None = None) -> Iterator[Any]:
    stmt = select(*[LOG.c[name] for name in COLUMNS]).where(LOG.c.id > after)
    if upto is not None:
        stmt = stmt.where(LOG.c.id <= upto)
    return iter(session.execute(stmt.order_by(LOG.c.id).execution_options(yield_per=STREAM)))


def last_seal(session: Session) -> SealPoint:
    row = session.execute(
        select(SEALS.c.upto, SEALS.c.rows, SEALS.c.hash).order_by(SEALS.c.upto.desc()).limit(1)
    ).first()
    return NOTHING if row is None else SealPoint(row.upto, row.rows, row.hash)


def seal_access_log(*, session: Session, now: datetime, lag: timedelta = LAG) -> SealPoint:
    """Extend the seal over the rows older than `lag` that follow the last seal (in id order,
    stopping at the first younger row); the seal the log now has."""
    point = last_seal(session)
    cutoff = now - lag
    upto, rows, running = point.upto, point.rows, point.hash
    for row in _rows(session, point.upto):
        if row.at > cutoff:
            break
        running = link(running, row)
        upto, rows = row.id, rows + 1
    if upto == point.upto:
        return point
    session.execute(insert(SEALS), {"upto": upto, "rows": rows, "hash": running, "sealed_at": now})
    return SealPoint(upto, rows, running)


def verify_access_log(*, session: Session, upto: int | None = None) -> AuditReport:
    """Recompute the running hash over the log (up to row `upto`, else the last seal) and compare it
    with each seal on the way."""
    report = AuditReport()
    seals = list(session.execute(select(SEALS.c.upto, SEALS.c.rows, SEALS.c.hash).order_by(SEALS.c.upto)))
    end = upto if upto is not None else (seals[-1].upto if seals else 0)
    pending = iter(seals)
    seal = next(pending, None)
    running, rows = GENESIS, 0
    for row in _rows(session, 0, end):
        running, rows = link(running, row), rows + 1
        while seal is not None and seal.upto < row.id:  # a sealed row is gone
            report.problems.append(_broken(seal, None, None))
            seal = next(pending, None)
        if seal is not None and seal.upto == row.id:
            report.seals += 1
            if (seal.rows, seal.hash) != (rows, running):
                report.problems.append(_broken(seal, rows, running))
            seal = next(pending, None)
    while seal is not None and seal.upto <= end:
        report.problems.append(_broken(seal, None, None))
        seal = next(pending, None)
    report.rows, report.hash = rows, running
    return report


def _broken(seal: Any, rows: int | None, running: str | None) -> str:
    if rows is None:
        return f"access log seal at row {seal.upto}: that row is gone (rows removed)"
    if rows != seal.rows:
        return (
            f"access log seal at row {seal.upto}: {rows} rows up to it, the seal counted {seal.rows} "
            "(rows removed or put in)"
        )
    return f"access log seal at row {seal.upto}: the rows up to it were altered (hash differs)"
