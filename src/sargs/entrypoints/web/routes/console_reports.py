"""Console pages for the DPO: the dashboard and the record of processing with processors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.errors import NotFound
from sargs.domains.policy.notices import notify_policy_version
from sargs.domains.ropa.processors import contract_status, processors_of
from sargs.domains.ropa.record import build_record, record_document
from sargs.entrypoints.api.deps import ContainerDep, audit
from sargs.entrypoints.api.routers.ropa import ropa_file
from sargs.entrypoints.notices import mail_queue, notice_secret
from sargs.entrypoints.web.dashboard import PanelContext, panels_for
from sargs.entrypoints.web.documents import STYLESHEET, render_document_html
from sargs.entrypoints.web.i18n import language_of, translator
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import STAFF_COOKIE, StaffPermit, StaffUser, check_csrf

router = APIRouter()

ReportReader = Annotated[StaffUser, Depends(StaffPermit("report.read"))]
NoticeSender = Annotated[StaffUser, Depends(StaffPermit("notice.send"))]


@router.get("/dashboard")
def dashboard(request: Request, container: ContainerDep, user: ReportReader) -> HTMLResponse:
    """Charts and clocks: consents over time and by channel, consent rates, open breaches, policy reviews."""
    lang = language_of(request, container.settings.default_language)
    with container.read_sessions.begin() as session:
        ctx = PanelContext(
            session=session,
            scope=user.principal,
            now=container.clock.now(),
            registry=container.registry,
            lang=lang,
            t=translator(lang),
        )
        panels = panels_for(ctx)
    return render(
        request, container, "console/dashboard.html", cookie=STAFF_COOKIE, me=user.principal, panels=panels
    )


@router.get("/ropa")
def ropa_page(request: Request, container: ContainerDep, user: ReportReader) -> HTMLResponse:
    """Download the Art. 30 record per controller; processors and their contracts."""
    controllers, processors = [], []
    today = container.clock.now().date()
    for cid in container.registry.controller_ids:
        if not user.principal.may_see(cid):
            continue
        policy = container.registry.policy_for(cid)
        controller = container.registry.controller(cid)
        controllers.append({"id": cid, "legal_name": controller.legal_name, "policy": policy.id})
        for p in processors_of(policy, cid):
            s = contract_status(p, today=today)
            processors.append(
                {
                    "name": p.name,
                    "controller": cid,
                    "in_force": s.in_force,
                    "reason": s.reason,
                    "signed": s.signed,
                    "expires": s.expires,
                }
            )
    return render(
        request,
        container,
        "console/ropa.html",
        cookie=STAFF_COOKIE,
        me=user.principal,
        controllers=controllers,
        processors=processors,
    )


@router.get("/ropa/{controller}")
def ropa_download(
    controller: str,
    container: ContainerDep,
    user: ReportReader,
    format: Annotated[str, Query(pattern="^(pdf|html|csv|json)$")] = "pdf",
    lang: Annotated[str, Query(pattern="^(lv|en)$")] = "lv",
) -> Response:
    """One controller's record as PDF, printable HTML, CSV or JSON."""
    user.principal.require_controller(controller)
    if format == "html":
        record = build_record(
            policy=container.registry.policy_for(controller),
            controller_id=controller,
            language=lang,
            today=container.clock.now().date(),
        )
        return HTMLResponse(render_document_html(record_document(record), stylesheet=STYLESHEET))
    body, media, name = ropa_file(container, controller, format, lang)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/policies/{policy_id}/notify")
def policy_notify(
    policy_id: str,
    request: Request,
    container: ContainerDep,
    user: NoticeSender,
    csrf: Annotated[str, Form(alias="csrf")],
) -> Response:
    """Tell everyone the policy's controllers hold about its current version (once per person)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    policy = next((p for p in container.registry.policies if p.id == policy_id), None)
    if policy is None:
        raise NotFound("no policy with this id")
    for controller in policy.controllers:
        user.principal.require_controller(controller.id)
    report = notify_policy_version(
        sessions=container.sessions,
        policy=policy,
        secret=notice_secret(container),
        now=container.clock.now,
        mail=mail_queue(container),
    )
    with container.sessions.begin() as session:
        audit(
            session,
            container,
            user.principal,
            request,
            "export",
            controllers=[c.id for c in policy.controllers],
        )
    return RedirectResponse(
        f"/console/dashboard?notified={policy.id}&count={report.queued}#policies", status_code=303
    )
