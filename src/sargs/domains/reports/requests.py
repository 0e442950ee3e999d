"""Rights-request figures for the dashboard: volumes per month and kind, answers on time or late."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sargs.domains.dsr.model import DsrRequest

CLOSED = ("fulfilled", "partially_fulfilled", "refused", "cancelled")


@dataclass
class RequestFigures:
    """Per month (YYYY-MM): requests received by kind, answers given on time and late; open now."""

    received: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> month -> count
    on_time: Counter[str] = field(default_factory=Counter)  # month answered -> count
    late: Counter[str] = field(default_factory=Counter)
    open_overdue: int = 0
    open_due_soon: int = 0  # within 7 days
    open_total: int = 0
    days_to_answer: list[float] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        days = sorted(self.days_to_answer)
        if not days:
            return None
        mid = len(days) // 2
        return days[mid] if len(days) % 2 else (days[mid - 1] + days[mid]) / 2


def request_figures(
    *, session: Session, controllers: Sequence[str] | None, since: datetime, now: datetime
) -> RequestFigures:
    """Requests received or answered since `since`, and every request still open, in one query."""
    stmt = select(
        DsrRequest.kind, DsrRequest.status, DsrRequest.received_at, DsrRequest.due_at, DsrRequest.closed_at
    ).where(
        or_(
            DsrRequest.received_at >= since,
            DsrRequest.closed_at >= since,
            DsrRequest.status.not_in(CLOSED),
        )
    )
    if controllers is not None:
        stmt = stmt.where(DsrRequest.controller.in_(list(controllers)))
    figures = RequestFigures()
    for kind, status, received_at, due_at, closed_at in session.execute(stmt):
        if received_at >= since:
            figures.received.setdefault(kind, Counter())[f"{received_at:%Y-%m}"] += 1
        if status not in CLOSED:
            figures.open_total += 1
            if due_at < now:
                figures.open_overdue += 1
            elif due_at < now + timedelta(days=7):
                figures.open_due_soon += 1
        elif closed_at is not None and closed_at >= since and status != "cancelled":
            (figures.on_time if closed_at <= due_at else figures.late)[f"{closed_at:%Y-%m}"] += 1
            figures.days_to_answer.append(round((closed_at - received_at).total_seconds() / 86400, 1))
    return figures
