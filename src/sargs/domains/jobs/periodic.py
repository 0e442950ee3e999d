"""Periodic jobs claimed through the database, so that several workers run each due slot once.

A job's row holds the slot it is next due at (`next_run_at`). A worker claims a slot with one
compare-and-set UPDATE (the slot it read, still due, no live lease); only one worker's UPDATE
matches. The claimer runs the job, then moves `next_run_at` to the next slot and drops the lease.
A worker that dies keeps the lease only until `lease_until`: then another worker claims the same
slot again, so a crash means a job runs again, never that it is skipped. Jobs are written to be
safe to run twice (outboxes lease their messages; alerts and reminders are unique per key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sargs.domains.jobs.model import WorkerJob, WorkerTask


@dataclass(frozen=True)
class Slot:
    """A claimed run of a job: which job and the due time it was claimed for."""

    name: str
    due: datetime


def ensure_jobs(
    *, session: Session, first_due: dict[str, datetime], latest_due: dict[str, datetime] | None = None
) -> None:
    """Create missing job rows, first due at `first_due`. A row due later than its `latest_due` (the
    next slot of its schedule now) had a slower schedule: it is brought forward, so a schedule made
    more frequent takes effect at once."""
    names = list(first_due)
    rows = {j.name: j for j in session.scalars(select(WorkerJob).where(WorkerJob.name.in_(names)))}
    missing = [
        {"name": name, "next_run_at": first, "runs": 0, "failures": 0}
        for name, first in first_due.items()
        if name not in rows
    ]
    if missing:  # two workers starting at once both miss the row: the first insert wins, quietly
        module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            module.insert(WorkerJob).values(missing).on_conflict_do_nothing(index_elements=["name"])
        )
    for name, row in rows.items():
        latest = (latest_due or {}).get(name)
        if latest is not None and row.next_run_at > latest and row.lease_owner is None:
            row.next_run_at = latest


def claim(*, session: Session, name: str, owner: str, now: datetime, lease: timedelta) -> Slot | None:
    """Take the job's due slot if it is due and nobody holds it (None: not due, or taken)."""
    due = session.scalar(select(WorkerJob.next_run_at).where(WorkerJob.name == name))
    if due is None or due > now:
        return None
    taken = session.execute(
        update(WorkerJob)
        .where(
            WorkerJob.name == name,
            WorkerJob.next_run_at == due,
            (WorkerJob.lease_until.is_(None)) | (WorkerJob.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=now + lease, last_started_at=now)
        .execution_options(synchronize_session=False)
    )
    return Slot(name, due) if taken.rowcount == 1 else None  # type: ignore[attr-defined]


def finish(
    *,
    session: Session,
    slot: Slot,
    owner: str,
    now: datetime,
    next_due: datetime,
    ok: bool,
    summary: str | None = None,
    error: str | None = None,
) -> bool:
    """Record the outcome and move the job to its next slot (False: the lease was lost meanwhile)."""
    done = session.execute(
        update(WorkerJob)
        .where(WorkerJob.name == slot.name, WorkerJob.lease_owner == owner)
        .values(
            next_run_at=next_due,
            lease_owner=None,
            lease_until=None,
            last_finished_at=now,
            last_ok=ok,
            last_error=(error or None) and error[:200],
            last_summary=(summary or None) and summary[:500],
            runs=WorkerJob.runs + 1,
            failures=WorkerJob.failures + (0 if ok else 1),
        )
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def due_jobs(*, session: Session, names: Iterable[str], now: datetime) -> list[str]:
    """Which of these jobs are due now and not held (what `sargs worker --once` runs)."""
    return list(
        session.scalars(
            select(WorkerJob.name)
            .where(
                WorkerJob.name.in_(list(names)),
                WorkerJob.next_run_at <= now,
                (WorkerJob.lease_until.is_(None)) | (WorkerJob.lease_until < now),
            )
            .order_by(WorkerJob.next_run_at, WorkerJob.name)
        )
    )


def extend_leases(*, session: Session, owner: str, now: datetime, lease: timedelta) -> int:
    """Keep this worker's jobs and tasks leased while it is alive (its heartbeat)."""
    jobs = session.execute(
        update(WorkerJob)
        .where(WorkerJob.lease_owner == owner)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    tasks = session.execute(
        update(WorkerTask)
        .where(WorkerTask.lease_owner == owner, WorkerTask.status == "running")
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return int(jobs.rowcount) + int(tasks.rowcount)  # type: ignore[attr-defined]


def release_all(*, session: Session, owner: str) -> int:
    """A stopping worker gives back what it holds: jobs stay due, running tasks are queued again."""
    jobs = session.execute(
        update(WorkerJob)
        .where(WorkerJob.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    tasks = session.execute(
        update(WorkerTask)
        .where(WorkerTask.lease_owner == owner, WorkerTask.status == "running")
        .values(status="queued", lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(jobs.rowcount) + int(tasks.rowcount)  # type: ignore[attr-defined]


def job_rows(*, session: Session) -> list[WorkerJob]:
    """Every job row, by name (for `sargs worker status` and the metrics)."""
    return list(session.scalars(select(WorkerJob).order_by(WorkerJob.name)))
