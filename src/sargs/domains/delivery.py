"""What the SMS and e-mail outboxes share: the retry schedule, the outcome of one hand-over to a
provider as column values, and the fenced write of that outcome.

A message is claimed with a lease and its attempt count moves on with each claim; an outcome is
recorded only while this worker's claim still holds (status `sending`, the same attempt count), so a
worker whose lease ran out cannot overwrite a newer claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("sargs.delivery")

LEASE = timedelta(minutes=2)
SEND_BUDGET = timedelta(seconds=30)  # what one hand-over may take (adapters time out sooner)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """15 s, 30 s, 1 min, 2 min ... capped at an hour."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def attempt(
    hand_over: Callable[[], str],
    *,
    attempts: int,
    max_attempts: int,
    now: datetime,
    permanent: type[Exception],
    transient: type[Exception],
    address_column: str,
    provider_id_length: int,
) -> dict[str, object]:
    """Call `hand_over` (returns the provider's id); the outcome as column values.

    A permanent error fails the message; a transient one, or any other exception an adapter raises,
    is retried with backoff until `max_attempts`. An unexpected exception is recorded by its class
    only (its text may quote the message). Sent or given up, the address is cleared.
    """
    try:
        provider_id = hand_over()
    except permanent as exc:
        return {"status": "failed", "last_error": str(exc)[:500], address_column: None}
    except Exception as exc:
        reason = str(exc) if isinstance(exc, transient) else f"unexpected {type(exc).__name__}"
        if attempts >= max_attempts:
            return {
                "status": "failed",
                "last_error": f"gave up after {attempts} attempts: {reason}"[:500],
                address_column: None,
            }
        return {"status": "queued", "next_attempt_at": now + backoff(attempts), "last_error": reason[:500]}
    return {
        "status": "sent",
        "sent_at": now,
        "provider_message_id": provider_id[:provider_id_length],
        address_column: None,
    }


def record_outcome(
    session: Session, model: Any, *, item_id: str, attempts: int, values: dict[str, object]
) -> bool:
    """Write an outcome only if this worker's claim still holds; False when it no longer does."""
    result = session.execute(
        update(model)
        .where(model.id == item_id, model.status == "sending", model.attempts == attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def release(session: Session, model: Any, items: Sequence[Claim], *, now: datetime) -> int:
    """Hand back claimed messages that were never handed over: queued and due at once, for any worker.

    Fenced like an outcome (still `sending` under this claim's attempt count); the count is not
    lowered, so a claim's number is never reused. How many were released."""
    released = 0
    for item in items:
        released += int(
            record_outcome(
                session,
                model,
                item_id=item.id,
                attempts=item.attempts,
                values={"status": "queued", "next_attempt_at": now},
            )
        )
    return released


@dataclass
class DeliveryReport:
    """What one batch did: sent, to be retried, failed (with `outbox id: reason` each)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    released: int = 0  # claimed but handed back unsent, because the worker is stopping

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


class Claim(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def attempts(self) -> int: ...


C = TypeVar("C", bound=Claim)


def deliver_batch(
    *,
    sessions: sessionmaker[Session],
    model: Any,
    claim: Callable[[Session, datetime], Sequence[C]],
    attempt: Callable[[C, datetime], dict[str, object]],
    now: Callable[[], datetime],
    lease: timedelta,
    send_budget: timedelta | None = None,
    settled: Callable[[Session, C, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    what: str,
) -> DeliveryReport:
    """Claim one batch of due messages, hand each over (`attempt`), record each outcome.

    A message is only handed over while at least `send_budget` (longer than the adapter's timeout;
    default 30 s, or a quarter of a shorter lease) of the batch's lease is left; the rest stay
    claimed and are picked up again when the lease ends, so a slow provider cannot make two workers
    send the same message. `settled(session, item, status)` runs with each recorded outcome.
    When `should_stop` says so (SIGTERM) the messages not yet handed over are released at once.
    """
    report = DeliveryReport()
    with sessions.begin() as session:
        started = now()
        batch = claim(session, started)
    budget = send_budget if send_budget is not None else min(SEND_BUDGET, lease / 4)
    deadline = started + lease - budget
    for index, item in enumerate(batch):
        if should_stop is not None and should_stop():
            with sessions.begin() as session:
                report.released = release(session, model, batch[index:], now=now())
            break
        if now() >= deadline:
            break
        outcome = attempt(item, now())
        status = str(outcome["status"])
        with sessions.begin() as session:
            if not record_outcome(session, model, item_id=item.id, attempts=item.attempts, values=outcome):
                log.warning(
                    f"{what} outcome not recorded: its lease had run out", extra={"outbox_id": item.id}
                )
                continue
            if settled is not None:
                settled(session, item, status)
        if status == "sent":
            report.sent += 1
        elif status == "queued":
            report.retried += 1
        else:
            report.failed += 1
            report.errors.append(f"{item.id}: {outcome['last_error']}")
            log.warning(f"{what} not delivered", extra={"outbox_id": item.id})
    return report


@dataclass(frozen=True)
class Backlog:
    """Messages waiting in one outbox (queued or being sent) and the age of the oldest."""

    waiting: int
    oldest_age_seconds: float  # 0 when nothing waits


def backlog(session: Session, model: Any, *, now: datetime) -> Backlog:
    """Count the outbox's queued and sending messages; the oldest one's age by its created_at."""
    count, oldest = session.execute(
        select(func.count(), func.min(model.created_at)).where(model.status.in_(("queued", "sending")))
    ).one()
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Backlog(waiting=int(count), oldest_age_seconds=age)
