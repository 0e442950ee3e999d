"""Stored fulfilment results are personal data (issue 16 part 6): what the data sources returned
for a request is kept only until the answer is delivered (the request closed) plus the policy's
`deadlines.dsr_result_retention_days`, then purged. The trail records the purge; the trail itself,
the decision and the answer's metadata stay (they hold no collected data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, null, select
from sqlalchemy.orm import Session

from sargs.domains.dsr.model import DsrEvent, DsrRequest, DsrSourceRun
from sargs.domains.dsr.service import DsrActor, log_event
from sargs.domains.policy.registry import PolicyRegistry

PURGED = "results_purged"


@dataclass(frozen=True)
class PurgeReport:
    requests: int
    runs: int

    def summary(self) -> str:
        return f"{self.runs} stored result(s) of {self.requests} request(s) purged"


def purge_due(request: DsrRequest, *, days: int, now: datetime) -> bool:
    return request.closed_at is not None and request.closed_at + timedelta(days=days) <= now


def purge_results(
    *, session: Session, registry: PolicyRegistry, now: datetime, limit: int = 500
) -> PurgeReport:
    """Purge the stored results of closed requests past their period (safe to rerun; batched)."""
    rows = session.scalars(
        select(DsrRequest)
        .where(
            DsrRequest.closed_at.is_not(None),
            ~exists().where(DsrEvent.request_id == DsrRequest.id, DsrEvent.action == PURGED),
        )
        .order_by(DsrRequest.closed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    requests = runs = 0
    for request in rows:
        days = registry.policy_for(request.controller).deadlines.dsr_result_retention_days
        if not purge_due(request, days=days, now=now):
            continue
        purged = 0
        for run in session.scalars(select(DsrSourceRun).where(DsrSourceRun.request_id == request.id)):
            if run.result is not None:
                run.result = null()  # SQL NULL, not a JSON null
                purged += 1
        requests, runs = requests + 1, runs + purged
        log_event(
            session=session,
            request=request,
            actor=DsrActor("system", None),
            action=PURGED,
            now=now,
            data={"runs": purged, "retention_days": days},
        )
    session.flush()
    return PurgeReport(requests, runs)


def is_purged(*, session: Session, request_id: str) -> bool:
    """True once the collected data of the request has been purged (the export is gone)."""
    return (
        session.scalar(
            select(DsrEvent.id).where(DsrEvent.request_id == request_id, DsrEvent.action == PURGED).limit(1)
        )
        is not None
    )
