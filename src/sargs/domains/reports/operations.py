"""Figures for monitoring (/metrics) read from the breach register and the worker's job table.

They live here rather than in `breaches/` and `jobs/` because they only read those tables, as the
dashboard's figures do. No personal data: a breach is counted under its controller (a company id
from the policy), a job under its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.domains.breaches.deadlines import due_at
from sargs.domains.breaches.model import Breach, BreachNotification
from sargs.domains.jobs.model import WorkerJob
from sargs.domains.policy.registry import PolicyRegistry

DEFAULT_BREACH_HOURS = 72
LEDGER_VERIFY_JOB = "ledger_verify"


@dataclass(frozen=True)
class BreachDeadline:
    """A controller's breaches whose notification clock runs (not filed, not assessed riskless)."""

    controller: str
    running: int
    nearest_due_at: datetime

    def hours_left(self, now: datetime) -> float:
        """Hours until the nearest deadline; negative once it has passed."""
        return (self.nearest_due_at - now).total_seconds() / 3600


def _hours(registry: PolicyRegistry, controller: str) -> int:
    try:
        return registry.policy_for(controller).deadlines.breach_notification_hours
    except InvalidInput:  # a breach of a controller no longer in the loaded policies
        return DEFAULT_BREACH_HOURS


def breach_deadlines(*, session: Session, registry: PolicyRegistry) -> list[BreachDeadline]:
    """Per controller: breaches awaiting their initial notification, and the nearest deadline."""
    filed = exists().where(BreachNotification.breach_id == Breach.id, BreachNotification.phase == "initial")
    rows = session.execute(
        select(Breach.controller, Breach.aware_at).where(
            Breach.status != "closed", or_(Breach.risk.is_(None), Breach.risk != "none"), ~filed
        )
    ).all()
    nearest: dict[str, datetime] = {}
    running: dict[str, int] = {}
    for controller, aware_at in rows:
        due = due_at(aware_at=aware_at, hours=_hours(registry, controller))
        running[controller] = running.get(controller, 0) + 1
        if controller not in nearest or due < nearest[controller]:
            nearest[controller] = due
    return [BreachDeadline(c, running[c], nearest[c]) for c in sorted(nearest)]


@dataclass(frozen=True)
class JobStatus:
    """One periodic job as the worker last recorded it."""

    name: str
    runs: int
    failures: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_ok: bool | None


def job_statuses(*, session: Session) -> list[JobStatus]:
    """Every periodic job the worker knows, by name."""
    rows = session.scalars(select(WorkerJob).order_by(WorkerJob.name))
    return [
        JobStatus(j.name, j.runs or 0, j.failures or 0, j.last_started_at, j.last_finished_at, j.last_ok)
        for j in rows
    ]
