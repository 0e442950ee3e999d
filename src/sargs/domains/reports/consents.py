"""Consent figures for the dashboard: events per month, purpose, channel and action; current state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sargs.domains.consent.model import ConsentEvent, ConsentState


@dataclass(frozen=True)
class Activity:
    month: str  # YYYY-MM
    purpose: str
    channel: str
    action: str
    count: int


@dataclass(frozen=True)
class StateCount:
    controller: str
    purpose: str
    status: str
    count: int


def months_back(now: datetime, months: int) -> list[str]:
    """The last `months` months as YYYY-MM, oldest first, ending with the current one."""
    out = []
    year, month = now.year, now.month
    for _ in range(months):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def consent_activity(
    *, session: Session, controllers: Sequence[str] | None, since: datetime, until: datetime
) -> list[Activity]:
    """Consent events counted per month, purpose, channel and action, in one grouped query."""
    if session.get_bind().dialect.name == "postgresql":
        month = func.to_char(ConsentEvent.occurred_at, "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", ConsentEvent.occurred_at)
    stmt = (
        select(month, ConsentEvent.purpose, ConsentEvent.channel, ConsentEvent.action, func.count())
        .where(ConsentEvent.occurred_at >= since, ConsentEvent.occurred_at < until)
        .group_by(month, ConsentEvent.purpose, ConsentEvent.channel, ConsentEvent.action)
    )
    if controllers is not None:
        stmt = stmt.where(ConsentEvent.controller.in_(list(controllers)))
    return [Activity(str(m), p, c, a, int(n)) for m, p, c, a, n in session.execute(stmt)]


def consent_states(*, session: Session, controllers: Sequence[str] | None) -> list[StateCount]:
    """How many people stand at each status, per controller and purpose, now."""
    stmt = select(ConsentState.controller, ConsentState.purpose, ConsentState.status, func.count()).group_by(
        ConsentState.controller, ConsentState.purpose, ConsentState.status
    )
    if controllers is not None:
        stmt = stmt.where(ConsentState.controller.in_(list(controllers)))
    return [StateCount(c, p, s, int(n)) for c, p, s, n in session.execute(stmt)]
