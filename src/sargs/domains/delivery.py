"""What the SMS and e-mail outboxes share: the retry schedule, the outcome of one hand-over to a
provider as column values, and the fenced write of that outcome.

A message is claimed with a lease and its attempt count moves on with each claim; an outcome is
recorded only while this worker's claim still holds (status `sending`, the same attempt count), so a
worker whose lease ran out cannot overwrite a newer claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

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
