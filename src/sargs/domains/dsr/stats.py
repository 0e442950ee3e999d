"""Counts of open rights requests per controller, for monitoring (/metrics). No personal data:
a controller is a company id from the policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrRequest

DUE_SOON = timedelta(days=7)


@dataclass(frozen=True)
class OpenRequests:
    """A controller's open requests: all, due within `DUE_SOON` (not yet overdue), and overdue."""

    controller: str
    open: int
    due_soon: int
    overdue: int


def open_requests(*, session: Session, now: datetime, within: timedelta = DUE_SOON) -> list[OpenRequests]:
    """Open requests per controller that has any, ordered by controller id."""
    overdue = func.sum(case((DsrRequest.due_at < now, 1), else_=0))
    due_soon = func.sum(case(((DsrRequest.due_at >= now) & (DsrRequest.due_at <= now + within), 1), else_=0))
    rows = session.execute(
        select(DsrRequest.controller, func.count(), due_soon, overdue)
        .where(DsrRequest.status.in_(wf.OPEN))
        .group_by(DsrRequest.controller)
        .order_by(DsrRequest.controller)
    ).all()
    return [OpenRequests(c, int(n), int(soon or 0), int(late or 0)) for c, n, soon, late in rows]
