"""What a worker does with each kind of background task, reporting progress as it goes.

Progress and results hold source and table names, states and counts: no personal data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sargs.core.errors import Conflict, SargsError
from sargs.domains.dsr.fulfilment import connected_sources
from sargs.domains.dsr.service import DsrActor, get_request
from sargs.domains.jobs import tasks as queue
from sargs.domains.jobs.model import WorkerTask
from sargs.domains.retention.runs import Progress as RetentionStep
from sargs.domains.retention.runs import run_retention
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import run_fulfilment

log = logging.getLogger("sargs.worker")
PROGRESS_EVERY = 0.5  # seconds between progress writes (state changes are written at once)


@dataclass
class TaskRun:
    """One claimed task: where its progress goes and when to stop."""

    container: Container
    task: WorkerTask
    owner: str
    stop: threading.Event
    lease: timedelta = timedelta(seconds=60)  # the worker's; runs hold their own leases twice as long

    def finish(
        self, result: dict[str, Any], *, progress: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        """Record the task done (or failed, with an error) and drop its lease."""
        with self.container.sessions.begin() as session:
            queue.complete(
                session=session,
                task_id=self.task.id,
                owner=self.owner,
                now=self.container.clock.now(),
                result=result,
                progress=progress,
                error=error,
            )

    def save_progress(self, progress: dict[str, Any]) -> None:
        with self.container.sessions.begin() as session:
            queue.set_progress(session=session, task_id=self.task.id, owner=self.owner, progress=progress)


class Stopped(Exception):
    """The worker is stopping: the task goes back to the queue with the progress so far."""

    def __init__(self, progress: dict[str, Any]) -> None:
        super().__init__("stopped")
        self.progress = progress


class RetryLater(Exception):
    """A data source failed for now (marked retryable): the task waits in the queue until `until`."""

    def __init__(self, until: datetime, progress: dict[str, Any]) -> None:
        super().__init__("retry later")
        self.until = until
        self.progress = progress


Outcome = tuple[dict[str, Any], dict[str, Any]]  # (result, final progress)


def fulfil_request(run: TaskRun) -> Outcome:
    """Run a rights request against its controller's data sources, one source at a time."""
    c, params = run.container, run.task.params
    request_id = run.task.target
    with c.read_sessions.begin() as session:
        controller = get_request(session=session, request_id=request_id).controller
    states: dict[str, str] = {s.id: "pending" for s in connected_sources(c.registry, controller)}
    progress: dict[str, Any] = {"sources": states, "done": 0, "total": len(states)}

    def step(source: str, state: str) -> None:
        states[source] = state
        progress["done"] = sum(1 for s in states.values() if s in ("ok", "failed", "skipped"))
        run.save_progress(progress)

    controllers = params.get("controllers")
    result = run_fulfilment(
        c,
        request_id,
        DsrActor(str(params.get("actor_kind", "system")), str(params.get("actor_id", "worker"))),
        controllers=tuple(controllers) if controllers is not None else None,
        progress=step,
        should_stop=run.stop.is_set,
        lease=run.lease * 2,
    )
    if result.status == "in_progress" and run.stop.is_set() and len(result.sources) < len(states):
        raise Stopped(progress)
    if result.retry_at is not None:  # every failure was retryable: the sources not done run again then
        raise RetryLater(result.retry_at, progress)
    return (
        {"status": result.status, "sources": dict(result.sources), "errors": dict(result.errors)},
        progress,
    )


def retention_run(run: TaskRun) -> Outcome:
    """Purge one source's expired rows in batches (resuming its unfinished run)."""
    c, params = run.container, run.task.params
    tables: dict[str, dict[str, int | None]] = {}
    progress: dict[str, Any] = {"tables": tables}
    last = [0.0]

    def step(s: RetentionStep) -> None:
        tables[s.table] = {"removed": s.removed, "total": s.total}
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            run.save_progress(progress)

    report = run_retention(
        sessions=c.sessions,
        registry=c.registry,
        connectors=c.retention_connectors,
        clock=c.clock.now,
        policy_id=str(params["policy"]),
        source_id=str(params["source"]),
        started_by=str(params.get("started_by", "worker")),
        batch_size=int(params.get("batch_size", 1000)),
        max_rows=params.get("max_rows"),
        progress=step,
        should_stop=run.stop.is_set,
        lease=run.lease * 2,
    )
    if report.status == "paused" and run.stop.is_set():
        raise Stopped(progress)
    return {"run_id": report.id, "status": report.status, "rows_removed": report.rows_removed}, progress


EXECUTORS: dict[str, Callable[[TaskRun], Outcome]] = {
    "dsr_fulfil": fulfil_request,
    "retention_run": retention_run,
}


def run_task(run: TaskRun) -> str:
    """Run a claimed task to its end and record the outcome: done, failed, or back in the queue."""
    c, task = run.container, run.task
    started = time.monotonic()
    try:
        result, progress = EXECUTORS[task.kind](run)
    except Stopped as stopped:
        with c.sessions.begin() as session:
            queue.requeue(session=session, task_id=task.id, owner=run.owner, progress=stopped.progress)
        log.info("task %s (%s) handed back: the worker is stopping", task.id, task.kind)
        return "requeued"
    except RetryLater as later:
        with c.sessions.begin() as session:
            queue.set_progress(session=session, task_id=task.id, owner=run.owner, progress=later.progress)
            queue.defer(session=session, task_id=task.id, owner=run.owner, until=later.until)
        log.info("task %s (%s) waits for a data source until %s", task.id, task.kind, later.until.isoformat())
        return "deferred"
    except Conflict as exc:  # the source or request is held by another run: try again later
        until = c.clock.now() + run.lease
        with c.sessions.begin() as session:
            queue.defer(session=session, task_id=task.id, owner=run.owner, until=until)
        log.info("task %s (%s) deferred: %s", task.id, task.kind, exc.code)
        return "deferred"
    except SargsError as exc:
        run.finish({}, error=exc.message)
        log.warning("task %s (%s) failed: %s", task.id, task.kind, exc.code)
        return "failed"
    except Exception as exc:
        run.finish({}, error=f"{type(exc).__name__} (see the worker's log)")
        log.exception("task %s (%s) failed", task.id, task.kind)
        return "failed"
    run.finish(result, progress=progress)
    log.info("task %s (%s) done in %.1f s", task.id, task.kind, time.monotonic() - started)
    return "done"
