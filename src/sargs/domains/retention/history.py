"""What retention did: the latest runs, the destruction log, and the DPO dashboard's overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from sargs.domains.retention.model import UNFINISHED, DestructionLogEntry, RetentionRun


def list_runs(*, session: Session, limit: int = 50) -> list[RetentionRun]:
    """The latest runs, newest first."""
    return list(session.scalars(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(limit)))


def destruction_log(
    *, session: Session, run_id: str | None = None, limit: int = 200, before_seq: int | None = None
) -> list[DestructionLogEntry]:
    """What was removed, newest first: source, table, rows, key range, rules, run, when."""
    stmt = select(DestructionLogEntry).order_by(DestructionLogEntry.seq.desc()).limit(limit)
    if run_id is not None:
        stmt = stmt.where(DestructionLogEntry.run_id == run_id)
    if before_seq is not None:
        stmt = stmt.where(DestructionLogEntry.seq < before_seq)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class RetentionOverview:
    """For the DPO dashboard: the latest runs and rows removed per rule."""

    runs: list[RetentionRun]
    removed_per_rule: dict[str, int]
    open_runs: int


def retention_overview(
    *,
    session: Session,
    now: datetime,
    days: int = 365,
    runs: int = 10,
    sources: set[tuple[str, str]] | None = None,
) -> RetentionOverview:
    """Recent runs and the rows removed per rule in the last `days` days, of the (policy, source)
    pairs in `sources` (None: all)."""
    since = now - timedelta(days=days)
    per_rule: dict[str, int] = {}
    pairs = list(sources) if sources is not None else None
    log_stmt = select(DestructionLogEntry.rules, func.sum(DestructionLogEntry.rows)).where(
        DestructionLogEntry.status == "done", DestructionLogEntry.at >= since
    )
    open_stmt = select(func.count()).select_from(RetentionRun).where(RetentionRun.status.in_(UNFINISHED))
    runs_stmt = select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(runs)
    if pairs is not None:
        log_stmt = log_stmt.where(
            tuple_(DestructionLogEntry.policy_id, DestructionLogEntry.source_id).in_(pairs)
        )
        open_stmt = open_stmt.where(tuple_(RetentionRun.policy_id, RetentionRun.source_id).in_(pairs))
        runs_stmt = runs_stmt.where(tuple_(RetentionRun.policy_id, RetentionRun.source_id).in_(pairs))
    for rules, total in session.execute(log_stmt.group_by(DestructionLogEntry.rules)):
        for rule in str(rules).split(","):
            per_rule[rule] = per_rule.get(rule, 0) + int(total or 0)
    open_runs = int(session.scalar(open_stmt) or 0)
    return RetentionOverview(list(session.scalars(runs_stmt)), per_rule, open_runs)
