"""One retention run at a time works on a source: it holds a lease on it, renewed after every batch."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sargs.core.errors import Conflict
from sargs.domains.retention.model import RetentionLease

LEASE = timedelta(minutes=2)


class LeaseLost(Conflict):
    """This run stalled past its lease and another run took the source over: stop, touch nothing."""


def lease_key(policy_id: str, source_id: str) -> str:
    return f"{policy_id}/{source_id}"


def take_lease(
    session: Session, *, key: str, run_id: str, owner: str, now: datetime, lease: timedelta = LEASE
) -> None:
    row = session.get(RetentionLease, key, with_for_update=True)
    if row is None:
        session.add(RetentionLease(source_key=key, run_id=run_id, owner=owner, expires_at=now + lease))
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"another retention run is working on {key}") from None
        return
    if row.owner != owner and row.expires_at > now:
        raise Conflict(
            f"retention run {row.run_id} is working on {key} (lease until {row.expires_at:%H:%M:%S} UTC)"
        )
    row.run_id, row.owner, row.expires_at = run_id, owner, now + lease
    session.flush()


def renew_lease(session: Session, *, key: str, owner: str, now: datetime, lease: timedelta = LEASE) -> None:
    result = session.execute(
        update(RetentionLease)
        .where(RetentionLease.source_key == key, RetentionLease.owner == owner)
        .values(expires_at=now + lease)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"the lease on {key} was taken over by another run; stopping")


def release_lease(session: Session, *, key: str, owner: str) -> None:
    session.execute(
        delete(RetentionLease).where(RetentionLease.source_key == key, RetentionLease.owner == owner)
    )
