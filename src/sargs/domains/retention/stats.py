"""Rows removed by retention runs, for monitoring (/metrics): counts per policy and source only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sargs.domains.retention.model import RetentionRun


@dataclass(frozen=True)
class RowsRemoved:
    policy_id: str
    source_id: str
    rows: int


def rows_removed(*, session: Session) -> list[RowsRemoved]:
    """Rows deleted or anonymised by every recorded run, summed per policy and source."""
    rows = session.execute(
        select(
            RetentionRun.policy_id,
            RetentionRun.source_id,
            func.coalesce(func.sum(RetentionRun.rows_removed), 0),
        )
        .group_by(RetentionRun.policy_id, RetentionRun.source_id)
        .order_by(RetentionRun.policy_id, RetentionRun.source_id)
    ).all()
    return [RowsRemoved(p, s, int(n)) for p, s, n in rows]
