"""Console pages of the breach register: the list with live clocks, the form, the detail page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.clock import as_utc
from sargs.core.errors import Conflict, InvalidInput, SargsError
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.deadlines import EXEMPTION_GROUNDS, PHASES, RISKS
from sargs.domains.breaches.notification import authority_notification, notification_document
from sargs.domains.breaches.service import BreachView
from sargs.entrypoints.api.deps import ContainerDep, audit
from sargs.entrypoints.api.routers.breaches import filing_content, notify_people
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.documents import STYLESHEET, render_document_html
from sargs.entrypoints.web.i18n import language_of
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import STAFF_COOKIE, StaffPermit, StaffUser, check_csrf

router = APIRouter()

Reader = Annotated[StaffUser, Depends(StaffPermit("breach.read"))]
Manager = Annotated[StaffUser, Depends(StaffPermit("breach.manage"))]
Csrf = Annotated[str, Form(alias="csrf")]
ShortText = Annotated[str, Form(max_length=200)]
LongText = Annotated[str, Form(max_length=20_000)]


def _page(
    request: Request, container: Container, user: StaffUser, name: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    return render(request, container, name, cookie=STAFF_COOKIE, status=status, me=user.principal, **ctx)


def _when(value: str | None, field: str) -> datetime | None:
    """A datetime-local field (taken as UTC, as the form says)."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(f"{field} must be a date and time", field=field) from None


def _get(container: Container, user: StaffUser, breach_id: str) -> BreachView:
    with container.read_sessions.begin() as session:
        return breaches.get_breach(
            session=session,
            registry=container.registry,
            breach_id=breach_id,
            by=user.principal,
            now=container.clock.now(),
        )


def _number(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None


@router.get("/breaches")
def breach_list(
    request: Request,
    container: ContainerDep,
    user: Reader,
    show: Annotated[str, Query(max_length=8)] = "open",
) -> HTMLResponse:
    """Open breaches (or all) with their 72-hour clocks counting down."""
    with container.read_sessions.begin() as session:
        views = breaches.list_breaches(
            session=session,
            registry=container.registry,
            by=user.principal,
            now=container.clock.now(),
            status=None if show == "all" else ["open", "assessed", "notified"],
        )
    return _page(
        request,
        container,
        user,
        "console/breaches.html",
        breaches=views,
        show=show,
        now=container.clock.now(),
    )


def _form(
    request: Request,
    container: Container,
    user: StaffUser,
    controller: str | None,
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    controllers = [c for c in container.registry.controller_ids if user.principal.may_see(c)]
    policy = container.registry.policy_for(controller) if controller else None
    return _page(
        request,
        container,
        user,
        "console/breach_form.html",
        status=status,
        controllers=controllers,
        controller=controller,
        policy=policy,
        tables=sorted(breaches.affected_table_names(policy, controller)) if policy and controller else [],
        now=container.clock.now(),
        values=ctx.pop("values", {}),
        **ctx,
    )


@router.get("/breaches/new")
def breach_new(
    request: Request,
    container: ContainerDep,
    user: Manager,
    controller: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The registration form (first: which company)."""
    if controller:
        user.principal.require_controller(controller)
        container.registry.policy_for(controller)
    return _form(request, container, user, controller)


class BreachForm:
    """The registration / edit form's fields, as typed (to show again) and as values (to save)."""

    def __init__(
        self,
        title: ShortText,
        nature: LongText,
        aware_at: Annotated[str, Form(max_length=40)],
        occurred_at: Annotated[str | None, Form(max_length=40)] = None,
        breach_types: Annotated[list[str] | None, Form()] = None,
        data_categories: Annotated[list[str] | None, Form()] = None,
        subject_categories: Annotated[list[str] | None, Form()] = None,
        approx_subjects: Annotated[str | None, Form(max_length=12)] = None,
        approx_records: Annotated[str | None, Form(max_length=12)] = None,
        consequences: LongText = "",
        measures: LongText = "",
        affected_tables: Annotated[list[str] | None, Form()] = None,
    ) -> None:
        self.raw: dict[str, Any] = {
            "title": title,
            "nature": nature,
            "aware_at": aware_at,
            "occurred_at": occurred_at or "",
            "breach_types": breach_types or [],
            "data_categories": data_categories or [],
            "subject_categories": subject_categories or [],
            "approx_subjects": approx_subjects or "",
            "approx_records": approx_records or "",
            "consequences": consequences,
            "measures": measures,
            "affected_tables": affected_tables or [],
        }

    def values(self) -> dict[str, Any]:
        """The fields as the service takes them; InvalidInput names a field that cannot be read."""
        raw = self.raw
        values = {
            **raw,
            "aware_at": _when(raw["aware_at"], "aware_at"),
            "occurred_at": _when(raw["occurred_at"], "occurred_at"),
            "approx_subjects": _number(raw["approx_subjects"], "approx_subjects"),
            "approx_records": _number(raw["approx_records"], "approx_records"),
        }
        if values["aware_at"] is None:
            raise InvalidInput("aware_at is required", field="aware_at")
        return values


FormFields = Annotated[BreachForm, Depends()]


@router.post("/breaches")
def breach_add(
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    controller: Annotated[str, Form(max_length=64)],
    form: FormFields,
) -> Response:
    """Register a breach; on bad input the form comes back with the error and what was typed."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    user.principal.require_controller(controller)
    container.registry.policy_for(controller)
    try:
        values = form.values()
        with container.sessions.begin() as session:
            view = breaches.register_breach(
                session=session,
                registry=container.registry,
                controller=controller,
                values=values,
                by=user.principal,
                now=container.clock.now(),
            )
            audit(session, container, user.principal, request, "change", controllers=[controller])
    except InvalidInput as exc:
        return _form(
            request,
            container,
            user,
            controller,
            status=422,
            error=exc.message,
            error_field=exc.details.get("field"),
            values=form.raw,
        )
    return RedirectResponse(f"/console/breaches/{view.id}", status_code=303)


def _typed(view: BreachView) -> dict[str, Any]:
    """A breach's fields as the form shows them."""
    return {
        "title": view.title,
        "nature": view.nature,
        "aware_at": view.aware_at.strftime("%Y-%m-%dT%H:%M"),
        "occurred_at": view.occurred_at.strftime("%Y-%m-%dT%H:%M") if view.occurred_at else "",
        "breach_types": view.breach_types,
        "data_categories": view.data_categories,
        "subject_categories": view.subject_categories,
        "approx_subjects": "" if view.approx_subjects is None else str(view.approx_subjects),
        "approx_records": "" if view.approx_records is None else str(view.approx_records),
        "consequences": view.consequences,
        "measures": view.measures,
        "affected_tables": view.affected_tables,
    }


@router.get("/breaches/{breach_id}/edit")
def breach_edit_page(
    breach_id: str, request: Request, container: ContainerDep, user: Manager
) -> HTMLResponse:
    """The form with the breach's current content (the trail keeps what it was)."""
    view = _get(container, user, breach_id)
    return _form(request, container, user, view.controller, values=_typed(view), breach=view)


@router.post("/breaches/{breach_id}/edit")
def breach_edit(
    breach_id: str, request: Request, container: ContainerDep, user: Manager, csrf: Csrf, form: FormFields
) -> Response:
    """Save changed fields; a refusal shows the form again with the error."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    view = _get(container, user, breach_id)
    try:
        with container.sessions.begin() as session:
            breaches.update_breach(
                session=session,
                registry=container.registry,
                breach_id=breach_id,
                values=form.values(),
                by=user.principal,
                now=container.clock.now(),
            )
            audit(session, container, user.principal, request, "change", controllers=[view.controller])
    except (InvalidInput, Conflict) as exc:
        return _form(
            request,
            container,
            user,
            view.controller,
            status=422,
            error=exc.message,
            error_field=exc.details.get("field"),
            values=form.raw,
            breach=view,
        )
    return RedirectResponse(f"/console/breaches/{breach_id}", status_code=303)


def _detail(
    request: Request, container: Container, user: StaffUser, breach_id: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    view = _get(container, user, breach_id)
    policy = container.registry.policy_for(view.controller)
    return _page(
        request,
        container,
        user,
        "console/breach.html",
        status=status,
        b=view,
        policy=policy,
        categories={c.id: c.title for c in policy.data_categories},
        groups={g.id: g.title for g in policy.client_groups},
        risks=RISKS,
        phases=PHASES,
        grounds=EXEMPTION_GROUNDS,
        now=container.clock.now(),
        **ctx,
    )


@router.get("/breaches/{breach_id}")
def breach_page(breach_id: str, request: Request, container: ContainerDep, user: Reader) -> HTMLResponse:
    """One breach: its Art. 33(3) content, clock, filings, the next steps and the trail."""
    return _detail(request, container, user, breach_id)


def _act(
    request: Request, container: Container, user: StaffUser, breach_id: str, fn: Any, **kw: Any
) -> Response:
    try:
        with container.sessions.begin() as session:
            fn(
                session=session,
                registry=container.registry,
                breach_id=breach_id,
                by=user.principal,
                now=container.clock.now(),
                **kw,
            )
            audit(session, container, user.principal, request, "change")
    except SargsError as exc:
        if exc.code == "not_found":
            raise
        return _detail(request, container, user, breach_id, status=422, error=exc.message)
    return RedirectResponse(f"/console/breaches/{breach_id}", status_code=303)


@router.post("/breaches/{breach_id}/assess")
def breach_assess(
    breach_id: str,
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    risk: Annotated[str, Form(max_length=8)],
    reasoning: LongText,
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    return _act(request, container, user, breach_id, breaches.assess_breach, risk=risk, reasoning=reasoning)


@router.post("/breaches/{breach_id}/notify")
def breach_notify(
    breach_id: str,
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    phase: Annotated[str, Form(max_length=16)],
    filed_at: Annotated[str | None, Form(max_length=40)] = None,
    delay_reasons: LongText = "",
    authority_reference: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    lang = language_of(request, container.settings.default_language)
    try:
        at = _when(filed_at, "filed_at")
    except InvalidInput as exc:
        return _detail(request, container, user, breach_id, status=422, error=exc.message)
    content = filing_content(container, user.principal, breach_id, phase=phase, language=lang)
    return _act(
        request,
        container,
        user,
        breach_id,
        breaches.file_notification,
        phase=phase,
        content=content,
        filed_at=at,
        delay_reasons=delay_reasons,
        authority_reference=authority_reference,
    )


@router.post("/breaches/{breach_id}/exemption")
def breach_exemption(
    breach_id: str,
    request: Request,
    container: ContainerDep,
    user: Manager,
    csrf: Csrf,
    ground: Annotated[str, Form(max_length=40)],
    explanation: LongText,
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    return _act(
        request, container, user, breach_id, breaches.record_exemption, ground=ground, explanation=explanation
    )


@router.post("/breaches/{breach_id}/close")
def breach_close(
    breach_id: str, request: Request, container: ContainerDep, user: Manager, csrf: Csrf
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    return _act(request, container, user, breach_id, breaches.close_breach)


@router.post("/breaches/{breach_id}/subject-notices")
def breach_subject_notices(
    breach_id: str, request: Request, container: ContainerDep, user: Manager, csrf: Csrf
) -> Response:
    """Tell the people affected by a high-risk breach (once each)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        report = notify_people(container, user.principal, breach_id, include_own_subjects=True)
    except SargsError as exc:
        if exc.code == "not_found":
            raise
        return _detail(request, container, user, breach_id, status=422, error=exc.message)
    with container.sessions.begin() as session:
        audit(session, container, user.principal, request, "export")
    return _detail(request, container, user, breach_id, notice_report=report)


@router.get("/breaches/{breach_id}/notification")
def breach_notification(
    breach_id: str,
    request: Request,
    container: ContainerDep,
    user: Reader,
    format: Annotated[str, Query(pattern="^(pdf|json|html)$")] = "pdf",
    lang: Annotated[str, Query(pattern="^(lv|en)$")] = "lv",
) -> Response:
    """The notification to the authority as PDF, JSON or a printable page."""
    view = _get(container, user, breach_id)
    content = authority_notification(
        breach=view,
        policy=container.registry.policy_for(view.controller),
        language=lang,
        now=container.clock.now(),
    )
    name = f"breach-notification-{breach_id}-{lang}"
    if format == "json":
        return Response(
            json.dumps(content, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    doc = notification_document(content)
    if format == "html":
        return HTMLResponse(
            render_document_html(doc, stylesheet=STYLESHEET), headers={"Cache-Control": "no-store"}
        )
    from sargs.integrations.documents.pdf import render_pdf  # fpdf loads on first PDF

    return Response(
        render_pdf(doc),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"', "Cache-Control": "no-store"},
    )
