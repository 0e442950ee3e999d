"""A fulfilled request's follow-ups over the API: recipients told (GDPR Art. 19) and manual sources'
tasks; marking a task done (the last one queues the run that completes the request) or a recipient
confirmed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sargs.domains.dsr.followup_model import DsrRecipientNotice, DsrTask
from sargs.domains.dsr.followups import confirm_by_staff, notices_of, overdue_tasks, tasks_of
from sargs.domains.dsr.service import DsrActor, get_request, log_event
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.dsr_common import audit_request, complete_task

router = APIRouter(tags=["rights requests"], responses=AUTHENTICATED_ERRORS)
Reader = Annotated[Principal, Depends(Permit("dsr.read"))]
Decider = Annotated[Principal, Depends(Permit("dsr.decide"))]


class NoticeRead(BaseModel):
    id: str
    recipient: str
    name: str
    channel: str
    language: str
    categories: list[str]
    status: str
    told_at: datetime
    link_expires_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    note: str | None

    @classmethod
    def of(cls, n: DsrRecipientNotice) -> NoticeRead:
        return cls(
            id=n.id,
            recipient=n.recipient,
            name=n.name,
            channel=n.channel,
            language=n.language,
            categories=list(n.categories or []),
            status=n.status,
            told_at=n.created_at,
            link_expires_at=n.expires_at,
            confirmed_at=n.confirmed_at,
            confirmed_by=n.confirmed_by,
            note=n.note,
        )


class ManualTaskRead(BaseModel):
    id: str
    request_id: str
    source: str
    operation: str
    assignee: str
    status: str
    due_at: datetime
    done_at: datetime | None
    note: str | None
    overdue: bool

    @classmethod
    def of(cls, t: DsrTask, now: datetime) -> ManualTaskRead:
        return cls(
            id=t.id,
            request_id=t.request_id,
            source=t.source,
            operation=t.operation,
            assignee=t.assignee,
            status=t.status,
            due_at=t.due_at,
            done_at=t.done_at,
            note=t.note,
            overdue=t.status == "open" and t.due_at < now,
        )


class FollowupsRead(BaseModel):
    notices: list[NoticeRead]
    tasks: list[ManualTaskRead]


class NoteIn(BaseModel):
    note: str = Field(min_length=3, max_length=2000, description="What was done, or how it confirmed.")


class TaskDone(BaseModel):
    task: ManualTaskRead
    completion_queued: bool = Field(
        description="The last task: the run that completes the request is queued."
    )


def _actor(principal: Principal) -> DsrActor:
    return DsrActor(principal.kind, principal.id)


@router.get(
    "/dsr/requests/{request_id}/followups", response_model=FollowupsRead, responses=error_responses(404)
)
def followups(request_id: str, container: ContainerDep, principal: Reader) -> FollowupsRead:
    """Who was told of the request and whether they confirmed; its manual tasks."""
    now = container.clock.now()
    with container.read_sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=principal.controllers)
        return FollowupsRead(
            notices=[NoticeRead.of(n) for n in notices_of(session=session, request_id=row.id)],
            tasks=[ManualTaskRead.of(t, now) for t in tasks_of(session=session, request_id=row.id)],
        )


@router.post(
    "/dsr/requests/{request_id}/tasks/{task_id}/done",
    response_model=TaskDone,
    responses=error_responses(404, 409, 422),
)
def task_done(
    request_id: str, task_id: str, body: NoteIn, request: Request, container: ContainerDep, principal: Decider
) -> TaskDone:
    """Mark a manual source's task done; when it was the last, the request completes (worker)."""
    with container.sessions.begin() as session:
        task, queued = complete_task(
            container,
            session,
            request_id=request_id,
            task_id=task_id,
            actor=_actor(principal),
            note=body.note,
            controllers=principal.controllers,
        )
        row = get_request(session=session, request_id=request_id)
        audit_request(session, container, principal, request, "change", row)
        return TaskDone(
            task=ManualTaskRead.of(task, container.clock.now()), completion_queued=queued is not None
        )


@router.post(
    "/dsr/requests/{request_id}/notices/{notice_id}/confirm",
    response_model=NoticeRead,
    responses=error_responses(404, 409, 422),
)
def notice_confirmed(
    request_id: str, notice_id: str, body: NoteIn, container: ContainerDep, principal: Decider
) -> NoticeRead:
    """Record that a recipient confirmed another way (phone, post, its own portal)."""
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=principal.controllers)
        notice = confirm_by_staff(
            session=session,
            request_id=row.id,
            notice_id=notice_id,
            staff_id=f"{principal.kind}:{principal.id}".removeprefix("staff:"),
            note=body.note,
            now=now,
        )
        log_event(
            session=session,
            request=row,
            actor=_actor(principal),
            action="recipient_confirmed",
            now=now,
            data={"recipient": notice.recipient},
        )
        return NoticeRead.of(notice)


@router.get("/dsr/tasks/overdue", response_model=list[ManualTaskRead])
def list_overdue_tasks(container: ContainerDep, principal: Reader) -> list[ManualTaskRead]:
    """Manual tasks past their due date (the dashboard's and the daily reminder's list)."""
    now = container.clock.now()
    with container.read_sessions.begin() as session:
        return [
            ManualTaskRead.of(t, now)
            for t in overdue_tasks(session=session, now=now, controllers=principal.controllers)
        ]
