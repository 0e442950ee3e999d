"""Background tasks: long work a request queues (a rights request's fulfilment, a retention run) and
a worker runs, reporting progress. The request answers at once with the task's id.

A task is claimed with a compare-and-set UPDATE and leased; the worker's heartbeat keeps the lease
alive. A worker that is killed leaves a running task whose lease runs out: the next worker claims
it again and the work resumes (fulfilment skips the sources already done; a retention run resumes
from its checkpoint). A task that keeps killing its worker is given up after MAX_ATTEMPTS.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sargs.core.errors import NotFound
from sargs.core.ids import new_id
from sargs.domains.jobs.model import WorkerTask

KINDS = ("dsr_fulfil", "retention_run")
MAX_ATTEMPTS = 5
OPEN = ("queued", "running")


def enqueue(
    *,
    session: Session,
    kind: str,
    target: str,
    params: dict[str, Any] | None = None,
    created_by: str,
    now: datetime,
    progress: dict[str, Any] | None = None,
) -> tuple[WorkerTask, bool]:
    """Queue a task, or return the one already queued or running for the same target (a retried
    request queues nothing twice). True when a new task was queued."""
    if kind not in KINDS:
        raise ValueError(f"unknown task kind {kind!r}")
    existing = session.scalar(
        select(WorkerTask)
        .where(WorkerTask.kind == kind, WorkerTask.target == target, WorkerTask.status.in_(OPEN))
        .order_by(WorkerTask.created_at)
        .limit(1)
    )
    if existing is not None:
        return existing, False
    task = WorkerTask(
        id=new_id(),
        kind=kind,
        target=target,
        params=dict(params or {}),
        status="queued",
        created_at=now,
        created_by=created_by[:120],
        attempts=0,
        progress=dict(progress or {}),
        result={},
    )
    session.add(task)
    session.flush()
    return task, True


def get_task(*, session: Session, task_id: str) -> WorkerTask:
    """One task by id (NotFound if there is none)."""
    task = session.get(WorkerTask, task_id)
    if task is None:
        raise NotFound("no such task", task=task_id)
    return task


def latest_task(*, session: Session, kind: str, target: str) -> WorkerTask | None:
    """The newest task for a target (the console shows its progress or result)."""
    return session.scalar(
        select(WorkerTask)
        .where(WorkerTask.kind == kind, WorkerTask.target == target)
        .order_by(WorkerTask.created_at.desc(), WorkerTask.id.desc())
        .limit(1)
    )


def open_tasks(*, session: Session, kind: str, targets: Iterable[str]) -> dict[str, WorkerTask]:
    """The queued or running task of each target that has one."""
    wanted = list(targets)
    if not wanted:
        return {}
    rows = session.scalars(
        select(WorkerTask).where(
            WorkerTask.kind == kind, WorkerTask.target.in_(wanted), WorkerTask.status.in_(OPEN)
        )
    )
    return {t.target: t for t in rows}


def claim_next(
    *, session: Session, owner: str, now: datetime, lease: timedelta, kinds: Iterable[str] = KINDS
) -> WorkerTask | None:
    """Take the oldest queued task, or a running one whose worker's lease ran out (it resumes)."""
    # queued (and not deferred until later), or running on a worker whose lease ran out
    waiting = WorkerTask.lease_until.is_(None) | (WorkerTask.lease_until < now)
    free = ((WorkerTask.status == "queued") & waiting) | (
        (WorkerTask.status == "running") & (WorkerTask.lease_until < now)
    )
    candidates = session.scalars(
        select(WorkerTask.id)
        .where(WorkerTask.kind.in_(list(kinds)), free)
        .order_by(WorkerTask.created_at, WorkerTask.id)
        .limit(8)
    ).all()
    for task_id in candidates:
        taken = session.execute(
            update(WorkerTask)
            .where(WorkerTask.id == task_id, free)
            .values(
                status="running",
                lease_owner=owner,
                lease_until=now + lease,
                attempts=WorkerTask.attempts + 1,
                started_at=func.coalesce(WorkerTask.started_at, now),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker was quicker
        task = session.get(WorkerTask, task_id, populate_existing=True)
        assert task is not None
        if task.attempts > MAX_ATTEMPTS:
            task.status, task.finished_at, task.lease_owner, task.lease_until = "failed", now, None, None
            task.error = f"gave up after {MAX_ATTEMPTS} attempts (each stopped its worker)"
            session.flush()
            continue
        return task
    return None


def set_progress(*, session: Session, task_id: str, owner: str, progress: dict[str, Any]) -> bool:
    """Store the task's progress (False: the task is no longer this worker's)."""
    done = session.execute(
        update(WorkerTask)
        .where(WorkerTask.id == task_id, WorkerTask.lease_owner == owner, WorkerTask.status == "running")
        .values(progress=progress)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def complete(
    *,
    session: Session,
    task_id: str,
    owner: str,
    now: datetime,
    result: dict[str, Any],
    progress: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Mark the task done (or failed, with an error) and drop its lease."""
    values: dict[str, Any] = {
        "status": "failed" if error else "done",
        "finished_at": now,
        "result": result,
        "error": (error or None) and error[:500],
        "lease_owner": None,
        "lease_until": None,
    }
    if progress is not None:
        values["progress"] = progress
    done = session.execute(
        update(WorkerTask)
        .where(WorkerTask.id == task_id, WorkerTask.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def requeue(*, session: Session, task_id: str, owner: str, progress: dict[str, Any] | None = None) -> bool:
    """Give a task back unfinished (the worker is stopping): the next worker resumes it."""
    values: dict[str, Any] = {"status": "queued", "lease_owner": None, "lease_until": None}
    if progress is not None:
        values["progress"] = progress
    done = session.execute(
        update(WorkerTask)
        .where(WorkerTask.id == task_id, WorkerTask.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def defer(*, session: Session, task_id: str, owner: str, until: datetime) -> bool:
    """Put a task back to wait until `until` (what it needs is busy, e.g. a source another run holds);
    the deferral does not count as an attempt."""
    done = session.execute(
        update(WorkerTask)
        .where(WorkerTask.id == task_id, WorkerTask.lease_owner == owner)
        .values(status="queued", lease_owner=None, lease_until=until, attempts=WorkerTask.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]
