"""The breach register (R-BRE-1..3): register, assess, notify the authority, tell people, export."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.notification import authority_notification, notification_document
from sargs.domains.breaches.service import BreachView
from sargs.domains.breaches.subjects import NoticeReport, notify_affected, source_identities
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses
from sargs.entrypoints.container import Container
from sargs.entrypoints.notices import mail_queue, notice_secret, source_connectors

router = APIRouter(tags=["breaches"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[Principal, Depends(Permit("breach.read"))]
Manager = Annotated[Principal, Depends(Permit("breach.manage"))]
Id = Annotated[str, Field(min_length=1, max_length=64)]
LongText = Annotated[str, Field(max_length=20_000)]


class BreachFields(BaseModel):
    """Art. 33(3) content; every field optional on update (only those sent are changed)."""

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    nature: LongText | None = None
    breach_types: list[Literal["confidentiality", "integrity", "availability"]] | None = None
    aware_at: datetime | None = Field(
        default=None, description="When the controller became aware (the clock starts)."
    )
    occurred_at: datetime | None = None
    data_categories: list[Id] | None = Field(default=None, description="Policy data-category ids.")
    subject_categories: list[Id] | None = Field(default=None, description="Policy client-group ids.")
    approx_subjects: Annotated[int, Field(ge=0)] | None = None
    approx_records: Annotated[int, Field(ge=0)] | None = None
    consequences: LongText | None = None
    measures: LongText | None = None
    affected_tables: list[Annotated[str, Field(max_length=130)]] | None = Field(
        default=None, description="'source.table' of the policy's data sources."
    )


class BreachCreate(BreachFields):
    controller: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    nature: LongText
    aware_at: datetime


class Assessment(BaseModel):
    risk: Literal["none", "risk", "high"]
    reasoning: LongText


class NotificationCreate(BaseModel):
    phase: Literal["initial", "follow_up", "final"]
    filed_at: datetime | None = None
    delay_reasons: LongText | None = None
    authority_reference: Annotated[str, Field(max_length=120)] | None = None
    language: Literal["lv", "en"] = "lv"


class Exemption(BaseModel):
    ground: Literal["protected_data", "risk_removed", "disproportionate_effort"]
    explanation: LongText


class SubjectNotices(BaseModel):
    include_own_subjects: bool = Field(
        default=True,
        description="Also tell everyone Sargs holds for the controller (besides the data sources).",
    )


class ClockRead(BaseModel):
    due_at: datetime
    state: str
    remaining_seconds: int


class NotificationRead(BaseModel):
    id: str
    phase: str
    filed_at: datetime
    late: bool
    delay_reasons: str | None
    authority_reference: str | None


class ChangeRead(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any]


class BreachRead(BaseModel):
    id: str
    controller: str
    status: str
    title: str
    nature: str
    breach_types: list[str]
    aware_at: datetime
    occurred_at: datetime | None
    data_categories: list[str]
    subject_categories: list[str]
    approx_subjects: int | None
    approx_records: int | None
    consequences: str
    measures: str
    affected_tables: list[str]
    risk: str | None
    risk_reasoning: str | None
    exemption_ground: str | None
    exemption_reason: str | None
    subjects_notified: int
    clock: ClockRead
    notifications: list[NotificationRead]
    changes: list[ChangeRead]

    @classmethod
    def of(cls, v: BreachView) -> BreachRead:
        return cls(
            id=v.id,
            controller=v.controller,
            status=v.status,
            title=v.title,
            nature=v.nature,
            breach_types=v.breach_types,
            aware_at=v.aware_at,
            occurred_at=v.occurred_at,
            data_categories=v.data_categories,
            subject_categories=v.subject_categories,
            approx_subjects=v.approx_subjects,
            approx_records=v.approx_records,
            consequences=v.consequences,
            measures=v.measures,
            affected_tables=v.affected_tables,
            risk=v.risk,
            risk_reasoning=v.risk_reasoning,
            exemption_ground=v.exemption_ground,
            exemption_reason=v.exemption_reason,
            subjects_notified=v.subjects_notified,
            clock=ClockRead(
                due_at=v.clock.due_at, state=v.clock.state, remaining_seconds=v.clock.remaining_seconds
            ),
            notifications=[
                NotificationRead(
                    id=n.id,
                    phase=n.phase,
                    filed_at=n.filed_at,
                    late=n.late,
                    delay_reasons=n.delay_reasons,
                    authority_reference=n.authority_reference,
                )
                for n in v.notifications
            ],
            changes=[
                ChangeRead(at=c.at, actor=c.actor, action=c.action, changes=c.changes) for c in v.changes
            ],
        )


class NoticeReportRead(BaseModel):
    sms: int
    email: int
    already: int
    unreachable: int
    email_unavailable: int
    sources_skipped: list[str] = Field(description="Data sources that could not be reached, and why.")

    @classmethod
    def of(cls, r: NoticeReport) -> NoticeReportRead:
        return cls(
            sms=r.sms,
            email=r.email,
            already=r.already,
            unreachable=r.unreachable,
            email_unavailable=r.email_unavailable,
            sources_skipped=list(r.errors),
        )


def _get(container: Container, principal: Principal, breach_id: str) -> BreachView:
    with container.read_sessions.begin() as session:
        return breaches.get_breach(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            by=principal,
            now=container.clock.now(),
        )


def filing_content(
    container: Container, principal: Principal, breach_id: str, *, phase: str, language: str
) -> dict[str, Any]:
    """What a filing says: the notification as it stands, marked with the phase being filed."""
    view = _get(container, principal, breach_id)
    return authority_notification(
        breach=view,
        policy=container.registry.policy_for(view.controller),
        language=language,
        now=container.clock.now(),
        phase=phase,
    )


@router.get("/breaches", response_model=list[BreachRead])
def breach_list(
    container: ContainerDep,
    principal: Reader,
    status: Annotated[list[Literal["open", "assessed", "notified", "closed"]] | None, Query()] = None,
) -> list[BreachRead]:
    """Breaches of the caller's controllers with their clocks, newest awareness first."""
    with container.read_sessions.begin() as session:
        views = breaches.list_breaches(
            session=session,
            registry=container.registry,
            by=principal,
            now=container.clock.now(),
            status=status,
        )
    return [BreachRead.of(v) for v in views]


@router.post(
    "/breaches", status_code=201, response_model=BreachRead, responses=error_responses(400, 404, 409, 413)
)
def breach_add(
    body: BreachCreate, request: Request, container: ContainerDep, principal: Manager
) -> BreachRead:
    """Register a breach; the notification clock starts at `aware_at`."""
    values = body.model_dump(exclude_unset=True, exclude={"controller"})
    with container.sessions.begin() as session:
        view = breaches.register_breach(
            session=session,
            registry=container.registry,
            controller=body.controller,
            values=values,
            by=principal,
            now=container.clock.now(),
        )
        audit(session, container, principal, request, "change", controllers=[body.controller])
    return BreachRead.of(view)


@router.get("/breaches/{breach_id}", response_model=BreachRead, responses=error_responses(404))
def breach_get(breach_id: str, container: ContainerDep, principal: Reader) -> BreachRead:
    """One breach with its notifications and its whole change trail."""
    return BreachRead.of(_get(container, principal, breach_id))


@router.patch(
    "/breaches/{breach_id}", response_model=BreachRead, responses=error_responses(400, 404, 409, 413)
)
def breach_update(
    breach_id: str, body: BreachFields, request: Request, container: ContainerDep, principal: Manager
) -> BreachRead:
    """Change the fields sent (the trail keeps old and new values)."""
    with container.sessions.begin() as session:
        view = breaches.update_breach(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            values=body.model_dump(exclude_unset=True),
            by=principal,
            now=container.clock.now(),
        )
        audit(session, container, principal, request, "change", controllers=[view.controller])
    return BreachRead.of(view)


@router.post(
    "/breaches/{breach_id}/assessment",
    response_model=BreachRead,
    responses=error_responses(400, 404, 409, 413),
)
def breach_assess(
    breach_id: str, body: Assessment, request: Request, container: ContainerDep, principal: Manager
) -> BreachRead:
    """Record the risk (none / risk / high) and its reasoning."""
    with container.sessions.begin() as session:
        view = breaches.assess_breach(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            risk=body.risk,
            reasoning=body.reasoning,
            by=principal,
            now=container.clock.now(),
        )
        audit(session, container, principal, request, "change", controllers=[view.controller])
    return BreachRead.of(view)


@router.post(
    "/breaches/{breach_id}/notifications",
    status_code=201,
    response_model=BreachRead,
    responses=error_responses(400, 404, 409, 413),
)
def breach_notify(
    breach_id: str, body: NotificationCreate, request: Request, container: ContainerDep, principal: Manager
) -> BreachRead:
    """Record a notification filed with the authority (late ones need `delay_reasons`)."""
    content = filing_content(container, principal, breach_id, phase=body.phase, language=body.language)
    with container.sessions.begin() as session:
        breaches.file_notification(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            phase=body.phase,
            by=principal,
            now=container.clock.now(),
            content=content,
            filed_at=body.filed_at,
            delay_reasons=body.delay_reasons,
            authority_reference=body.authority_reference,
        )
        audit(session, container, principal, request, "change", controllers=[content["controller"]["id"]])
    return BreachRead.of(_get(container, principal, breach_id))


@router.post(
    "/breaches/{breach_id}/exemption",
    response_model=BreachRead,
    responses=error_responses(400, 404, 409, 413),
)
def breach_exemption(
    breach_id: str, body: Exemption, request: Request, container: ContainerDep, principal: Manager
) -> BreachRead:
    """Record why the people concerned are not told (Art. 34(3)(a)-(c))."""
    with container.sessions.begin() as session:
        view = breaches.record_exemption(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            ground=body.ground,
            explanation=body.explanation,
            by=principal,
            now=container.clock.now(),
        )
        audit(session, container, principal, request, "change", controllers=[view.controller])
    return BreachRead.of(view)


@router.post(
    "/breaches/{breach_id}/close", response_model=BreachRead, responses=error_responses(400, 404, 409, 413)
)
def breach_close(breach_id: str, request: Request, container: ContainerDep, principal: Manager) -> BreachRead:
    """Close a breach that was assessed, notified when needed, and whose people were told or exempted."""
    with container.sessions.begin() as session:
        view = breaches.close_breach(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            by=principal,
            now=container.clock.now(),
        )
        audit(session, container, principal, request, "change", controllers=[view.controller])
    return BreachRead.of(view)


def notify_people(
    container: Container, principal: Principal, breach_id: str, *, include_own_subjects: bool
) -> NoticeReport:
    """Tell the people affected, from the affected tables' data sources and Sargs' own subjects."""
    view = _get(container, principal, breach_id)
    policy = container.registry.policy_for(view.controller)
    unreachable: list[str] = []
    people = source_identities(
        policy=policy,
        affected_tables=view.affected_tables,
        connectors=source_connectors(container),
        unreachable=unreachable,
    )
    report = notify_affected(
        sessions=container.sessions,
        policy=policy,
        breach_id=breach_id,
        by=principal,
        identities=people,
        include_own_subjects=include_own_subjects,
        secret=notice_secret(container),
        now=container.clock.now,
        mail=mail_queue(container),
    )
    report.errors.extend(unreachable)
    return report


@router.post(
    "/breaches/{breach_id}/subject-notices",
    response_model=NoticeReportRead,
    responses=error_responses(400, 404, 409, 413),
)
def breach_subject_notices(
    breach_id: str, body: SubjectNotices, request: Request, container: ContainerDep, principal: Manager
) -> NoticeReportRead:
    """Queue a clear message (SMS or e-mail) to each affected person once (high risk only)."""
    report = notify_people(container, principal, breach_id, include_own_subjects=body.include_own_subjects)
    with container.sessions.begin() as session:
        audit(session, container, principal, request, "export")
    return NoticeReportRead.of(report)


@router.get(
    "/breaches/{breach_id}/notification",
    responses={
        200: {
            "description": "The notification to the authority with every Art. 33(3) field.",
            "content": {"application/json": {}, "application/pdf": {}},
        },
        **error_responses(404),
    },
)
def breach_export(
    breach_id: str,
    container: ContainerDep,
    principal: Reader,
    format: Annotated[Literal["json", "pdf"], Query()] = "json",
    lang: Annotated[Literal["lv", "en"], Query()] = "lv",
) -> Response:
    """The authority notification as it stands now, as JSON or PDF, in Latvian or English."""
    view = _get(container, principal, breach_id)
    content = authority_notification(
        breach=view,
        policy=container.registry.policy_for(view.controller),
        language=lang,
        now=container.clock.now(),
    )
    name = f"breach-notification-{breach_id}-{lang}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "pdf":
        from sargs.integrations.documents.pdf import render_pdf  # fpdf loads on first PDF

        return Response(
            render_pdf(notification_document(content)), media_type="application/pdf", headers=disposition
        )
    return Response(
        json.dumps(content, ensure_ascii=False, indent=2), media_type="application/json", headers=disposition
    )
