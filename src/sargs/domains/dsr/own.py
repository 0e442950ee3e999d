"""The person's own requests, as the portal offers them (issue 16 part 5): complete the missing
content of a request on hold, cancel a request, and follow it on a timeline. The rules live here;
the portal routes only call them. Every change goes through the request's trail (service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor, cancel, complete_content, lock_request, missing_of, trail

# What the person may supply themselves in the portal (a signature is staff's to record).
SELF_FIELDS = ("name", "address", "details")


def _own(session: Session, request_id: str, subject_id: str) -> DsrRequest:
    """The request, locked; someone else's request does not exist."""
    try:
        request = lock_request(session=session, request_id=request_id)
    except NotFound:
        raise NotFound("no such request") from None
    if request.subject_id != subject_id:
        raise NotFound("no such request")
    return request


def cancel_own(*, session: Session, request_id: str, subject_id: str, reason: str, now: datetime) -> bool:
    """Cancel the person's own open request. False: it was already cancelled (a double cancel
    changes nothing). A request already answered cannot be cancelled. The row lock and the cleared
    fulfilment lease make a running fulfilment task stop before its next source."""
    request = _own(session, request_id, subject_id)
    if request.status == "cancelled":
        return False
    if request.status in wf.FINAL:
        raise Conflict(f"a request that is {request.status} cannot be cancelled", field="status")
    cancel(
        session=session,
        request=request,
        reason=reason.strip()[:500] or "cancelled by the requester in the portal",
        actor=DsrActor("subject", subject_id),
        now=now,
    )
    return True


def complete_own(
    *, session: Session, request_id: str, subject_id: str, values: dict[str, str], now: datetime
) -> list[str]:
    """Add what the request on hold lacks; returns what is still missing (empty: it resumed).
    Every missing field the person can supply must be filled, or nothing is written."""
    request = _own(session, request_id, subject_id)
    if request.status != "on_hold":
        raise Conflict("only a request on hold waits for more content", field="status")
    clean = {k: str(values.get(k) or "").strip() for k in SELF_FIELDS}
    for key in missing_of(request):
        if key in SELF_FIELDS and len(clean[key]) < 2:
            raise InvalidInput(f"fill in {key}", field=key)
    if not any(clean.values()):
        raise InvalidInput("fill in what the request lacks", field="details")
    complete_content(
        session=session,
        request=request,
        requester={k: clean[k] for k in ("name", "address") if clean[k]},
        details=clean["details"] or None,
        actor=DsrActor("subject", subject_id),
        now=now,
    )
    return missing_of(request)


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str
    status: str | None
    reason: str | None


# Trail actions the person is shown (internal ones, such as fulfilment leases, are not).
SHOWN_ACTIONS = frozenset(
    {
        "received",
        "on_hold",
        "content_completed",
        "resumed",
        "verified",
        "in_progress",
        "extended",
        "fulfilled",
        "partially_fulfilled",
        "refused",
        "cancelled",
    }
)


def timeline(*, session: Session, request: DsrRequest) -> list[Step]:
    """The request's story for its requester: each status change, in order."""
    steps = []
    for e in trail(session=session, request_id=request.id):
        if e.to_status != e.from_status or e.action in SHOWN_ACTIONS:
            steps.append(Step(e.at, e.action, e.to_status, e.reason if e.action == "on_hold" else None))
    return steps


def portal_view(request: DsrRequest, *, now: datetime) -> dict[str, Any]:
    """What the portal can offer for a request: cancel while open, complete while on hold."""
    missing = missing_of(request) if request.status == "on_hold" else []
    return {
        "can_cancel": request.status in wf.OPEN,
        "missing": [m for m in missing if m in SELF_FIELDS],
        "overdue": request.status in wf.OPEN and request.due_at < now,
    }
