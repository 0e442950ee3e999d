"""The console's follow-ups of a fulfilled request: a manual source's task marked done (the request
then completes), a recipient marked as having confirmed (GDPR Art. 19)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sargs.core.errors import SargsError
from sargs.domains.dsr.followups import confirm_by_staff
from sargs.domains.dsr.service import get_request, log_event
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.dsr_common import audit_request, complete_task
from sargs.entrypoints.web.routes.console_dsr import Csrf, Decider, _actor, _refused, _scope, _why
from sargs.entrypoints.web.security import STAFF_COOKIE, check_csrf

router = APIRouter()
Note = Annotated[str, Form(max_length=2000)]


@router.post("/dsr/{request_id}/tasks/{task_id}/done")
def task_done(
    request_id: str,
    task_id: str,
    request: Request,
    container: ContainerDep,
    user: Decider,
    csrf: Csrf,
    note: Note = "",
) -> Response:
    """Mark a manual source's task done with what was done; the last one queues the completing run."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            complete_task(
                container,
                session,
                request_id=request_id,
                task_id=task_id,
                actor=_actor(user),
                note=note,
                controllers=_scope(user),
            )
            row = get_request(session=session, request_id=request_id)
            audit_request(session, container, user.principal, request, "change", row, reason=_why(row.id))
    except SargsError as exc:
        return _refused(request, container, user, request_id, exc)
    return RedirectResponse(f"/console/dsr/{request_id}?done=1#manual-tasks", status_code=303)


@router.post("/dsr/{request_id}/notices/{notice_id}/confirm")
def notice_confirmed(
    request_id: str,
    notice_id: str,
    request: Request,
    container: ContainerDep,
    user: Decider,
    csrf: Csrf,
    note: Note = "",
) -> Response:
    """Record that a recipient confirmed another way (phone, post, its own portal)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    now = container.clock.now()
    try:
        with container.sessions.begin() as session:
            row = get_request(session=session, request_id=request_id, controllers=_scope(user))
            notice = confirm_by_staff(
                session=session,
                request_id=row.id,
                notice_id=notice_id,
                staff_id=user.principal.id or "",
                note=note,
                now=now,
            )
            log_event(
                session=session,
                request=row,
                actor=_actor(user),
                action="recipient_confirmed",
                now=now,
                data={"recipient": notice.recipient},
            )
    except SargsError as exc:
        return _refused(request, container, user, request_id, exc)
    return RedirectResponse(f"/console/dsr/{request_id}?done=1#recipients", status_code=303)
