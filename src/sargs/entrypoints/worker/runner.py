"""`sargs worker`: APScheduler fires each job at its slots; the database decides which worker runs it.

- Every job has a row in `worker_jobs` with the slot it is next due at. When the scheduler fires a
  job, the worker claims that slot with a compare-and-set UPDATE, so of several workers on one
  database exactly one runs it (sargs.domains.jobs.periodic). Slots are the same in every worker
  (interval schedules count from a fixed epoch), so the others find the slot taken.
- A worker that was down finds its jobs' slots in the past and runs each once at start (missed
  slots are coalesced, not replayed).
- Background tasks (fulfilment, retention from the API or console) are polled from `worker_tasks`.
- A heartbeat keeps this worker's leases alive. On stop (SIGTERM) jobs and tasks stop at their next
  batch boundary; whatever is still held after the grace period is handed back for others to resume.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sargs.core.errors import SargsError
from sargs.domains.jobs import periodic
from sargs.domains.jobs import tasks as queue
from sargs.entrypoints.container import Container
from sargs.entrypoints.worker.jobs import Job, JobContext, WorkerPorts, catalogue
from sargs.entrypoints.worker.schedule import Schedule, schedules
from sargs.entrypoints.worker.tasks import TaskRun, run_task

log = logging.getLogger("sargs.worker")
STOP_GRACE = 8.0  # seconds a stopping worker waits for running jobs before handing them back


@dataclass
class RunOutcome:
    """What one job run did (for --once output and tests)."""

    name: str
    due: datetime
    ok: bool
    summary: str
    waited: float  # seconds between the slot and the start


@dataclass
class Worker:
    container: Container
    ports: WorkerPorts
    only: set[str] | None = None
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"
    )
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        s = self.container.settings
        self.lease = timedelta(seconds=s.worker_lease_seconds)
        parsed = schedules(s.worker_schedule, timezone=s.worker_timezone)
        self.jobs: dict[str, tuple[Schedule, Job]] = {}
        for name, (key, fn) in catalogue(self.container).items():
            schedule = parsed[key]
            if schedule is None or (self.only is not None and name not in self.only and key not in self.only):
                continue
            self.jobs[name] = (schedule, fn)
        self.context = JobContext(self.container, self.ports, self.stop)
        self._scheduler: BackgroundScheduler | None = None
        self._busy = 0
        self._busy_lock = threading.Lock()

    # --- one run of a job ------------------------------------------------------------------

    def prepare(self) -> None:
        """Make sure every job this worker runs has its row (first due now, or at its next slot)."""
        now = self.container.clock.now()
        with self.container.sessions.begin() as session:
            periodic.ensure_jobs(
                session=session,
                first_due={n: s.first_due(now) for n, (s, _) in self.jobs.items()},
                latest_due={n: s.next_after(now) for n, (s, _) in self.jobs.items()},
            )

    @contextmanager
    def _working(self) -> Iterator[None]:
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    def attempt(self, name: str) -> RunOutcome | None:
        """Run the job if its slot is due and no other worker has it (None: nothing to do)."""
        if self.stop.is_set():
            return None
        schedule, fn = self.jobs[name]
        c = self.container
        with self._working():
            try:
                with c.sessions.begin() as session:
                    slot = periodic.claim(
                        session=session, name=name, owner=self.owner, now=c.clock.now(), lease=self.lease
                    )
            except Exception as exc:  # the database is away: the next slot tries again
                log.warning("job %s: could not claim (%s)", name, type(exc).__name__)
                return None
            if slot is None:
                return None
            started = c.clock.now()
            waited = max((started - slot.due).total_seconds(), 0.0)
            t0 = time.monotonic()
            ok, summary, error = True, "", None
            try:
                summary = fn(self.context)
            except Exception as exc:  # recorded on the job row; the next slot runs it again
                ok = False
                error = exc.message if isinstance(exc, SargsError) else type(exc).__name__
                summary = error
                log.warning("job %s failed: %s", name, error, exc_info=not isinstance(exc, SargsError))
            took = time.monotonic() - t0
            now = c.clock.now()
            try:
                with c.sessions.begin() as session:
                    kept = periodic.finish(
                        session=session,
                        slot=slot,
                        owner=self.owner,
                        now=now,
                        next_due=schedule.next_after(max(now, slot.due)),
                        ok=ok,
                        summary=summary,
                        error=error,
                    )
            except Exception as exc:
                log.warning("job %s: could not record its run (%s)", name, type(exc).__name__)
                kept = False
            # A run that did something (a non-zero count) or failed is worth a line at INFO; the
            # idle polls of the outboxes every few seconds are DEBUG.
            level = logging.INFO if (not ok or not kept or re.search(r"[1-9]", summary)) else logging.DEBUG
            log.log(
                level,
                "job %s slot %s %s in %.2f s, started %.3f s after due: %s%s",
                name,
                slot.due.strftime("%Y%m%dT%H%M%S.%fZ"),  # compact: the log masks dashed digit runs
                "ok" if ok else "FAILED",
                took,
                waited,
                summary,
                "" if kept else " (its lease had run out)",
            )
            return RunOutcome(name, slot.due, ok, summary, waited)

    def drain_tasks(self) -> int:
        """Run queued background tasks until none is left or the worker stops; how many ran."""
        c, ran = self.container, 0
        while not self.stop.is_set():
            with self._working():
                try:
                    with c.sessions.begin() as session:
                        task = queue.claim_next(
                            session=session, owner=self.owner, now=c.clock.now(), lease=self.lease
                        )
                        if task is not None:
                            session.flush()
                            session.expunge(task)
                except Exception as exc:
                    log.warning("tasks: could not claim (%s)", type(exc).__name__)
                    return ran
                if task is None:
                    return ran
                run_task(TaskRun(c, task, self.owner, self.stop, self.lease))
                ran += 1
        return ran

    def heartbeat(self) -> None:
        """Keep this worker's leases alive."""
        try:
            with self.container.sessions.begin() as session:
                periodic.extend_leases(
                    session=session, owner=self.owner, now=self.container.clock.now(), lease=self.lease
                )
        except Exception as exc:
            log.warning("heartbeat failed (%s)", type(exc).__name__)

    # --- modes ------------------------------------------------------------------------------

    def run_once(self) -> tuple[list[RunOutcome], int]:
        """`sargs worker --once`: every job due now, then every queued task; then return."""
        self.prepare()
        with self.container.read_sessions.begin() as session:
            due = periodic.due_jobs(session=session, names=self.jobs, now=self.container.clock.now())
        outcomes = [o for o in (self.attempt(name) for name in due) if o is not None]
        return outcomes, self.drain_tasks()

    def start(self) -> None:
        """Start the scheduler in background threads (returns at once; `shutdown` stops it)."""
        self.prepare()
        s = self.container.settings
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(s.worker_threads + 2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        now = datetime.now(UTC)
        for name, (schedule, _) in self.jobs.items():
            # Fired on the schedule's own slots (the same in every worker), and once now: a slot
            # missed while no worker ran is due at once.
            scheduler.add_job(self.attempt, schedule.trigger, args=[name], id=name)
            scheduler.add_job(self.attempt, DateTrigger(now), args=[name], id=f"{name}:catch-up")
        scheduler.add_job(
            self.drain_tasks,
            IntervalTrigger(seconds=s.worker_task_poll_seconds),
            id="tasks",
            next_run_time=now,
        )
        scheduler.add_job(
            self.heartbeat, IntervalTrigger(seconds=max(self.lease.total_seconds() / 3, 0.5)), id="heartbeat"
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("worker %s started: %d jobs", self.owner, len(self.jobs))

    def shutdown(self, grace: float = STOP_GRACE) -> None:
        """Stop: let running work reach a batch boundary for up to `grace` seconds, hand back the rest."""
        self.stop.set()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        deadline = time.monotonic() + grace
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            with self.container.sessions.begin() as session:
                handed = periodic.release_all(session=session, owner=self.owner)
        except Exception as exc:
            log.warning("could not hand back leases (%s); they run out in %s", type(exc).__name__, self.lease)
            handed = 0
        log.info(
            "worker %s stopped (%d still running, %d leases handed back)", self.owner, self._busy, handed
        )
