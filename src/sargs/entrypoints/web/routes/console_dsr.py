"""Console pages for rights requests: the list with overdue and due-soon views, intake for
in-person, post, representative and e-mail requests, verification, holds, repeat decisions,
extensions, fulfilment with each data source's status, and the answer (R-DSR-1..7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, SargsError
from sargs.domains.audit.service import AccessAction
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.followups import notices_of, tasks_of
from sargs.domains.dsr.fulfilment import SOURCE_KINDS, runs_of
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import (
    DsrActor,
    complete_content,
    decide_repeat,
    extend_deadline,
    get_request,
    hold,
    list_requests,
    lock_request,
    missing_of,
    record_decision,
    trail,
    verify_identity,
)
from sargs.domains.jobs.tasks import OPEN, latest_task
from sargs.domains.portal.service import read_identity
from sargs.domains.subjects.identifiers import Identity, parse_identity
from sargs.entrypoints.api.deps import ContainerDep, audit
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import (
    MAX_SIGNED_FILE,
    audit_request,
    confirm_links,
    notify_requester,
    portability_bytes,
    queue_fulfilment,
    response_bytes,
    response_document,
    signed_file_evidence,
)
from sargs.entrypoints.offload import blocking
from sargs.entrypoints.web.reauth import Reauth
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import STAFF_COOKIE, StaffPermit, StaffUser, check_csrf

router = APIRouter()
Reader = Annotated[StaffUser, Depends(StaffPermit("dsr.read"))]
Intaker = Annotated[StaffUser, Depends(StaffPermit("dsr.intake"))]
Decider = Annotated[StaffUser, Depends(StaffPermit("dsr.decide"))]
Csrf = Annotated[str, Form(alias="csrf")]
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=300)]


def _actor(user: StaffUser) -> DsrActor:
    return DsrActor("staff", user.principal.id)


def _scope(user: StaffUser) -> tuple[str, ...] | None:
    return user.principal.controllers


def _why(request_id: str) -> str:
    return f"handling rights request {request_id}"


def _refused(
    request: Request, container: Container, user: StaffUser, request_id: str, exc: SargsError
) -> Response:
    """The request's page again with the refusal (409 conflict, else 422); an unknown request is 404."""
    if exc.code == "not_found":
        raise exc
    return _detail(
        request,
        container,
        user,
        request_id,
        status=409 if exc.code == "conflict" else 422,
        error=exc.message,
    )


def _log_access(
    container: Container, user: StaffUser, request: Request, request_id: str, action: AccessAction
) -> None:
    """Log, in a transaction of its own, that this staff member read, changed or exported a
    request's person's data."""
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id)
        audit_request(session, container, user.principal, request, action, row, reason=_why(row.id))


def form_identity(text: str, region: str) -> Identity:
    """A phone, e-mail or `customer:<number>` typed into a form."""
    if text.strip().lower().startswith("customer:"):
        return parse_identity(text.strip(), region=region)
    return read_identity(text, region=region)


def _page(
    request: Request, container: Container, name: str, user: StaffUser, status: int = 200, **ctx: Any
) -> HTMLResponse:
    return render(request, container, name, cookie=STAFF_COOKIE, status=status, me=user.principal, **ctx)


@router.get("/dsr")
def dsr_list(
    request: Request,
    container: ContainerDep,
    user: Reader,
    view: Annotated[str, Query(max_length=16)] = "open",
) -> HTMLResponse:
    """Open requests by due date; `view=overdue`, `due_soon` or `all`."""
    now = container.clock.now()
    with container.read_sessions.begin() as session:
        kwargs: dict[str, Any] = {}
        if view == "overdue":
            kwargs["overdue"] = True
        elif view == "due_soon":
            kwargs["due_within"] = timedelta(days=7)
        elif view != "all":
            view = "open"
            kwargs["due_within"] = timedelta(days=36500)
        rows = list_requests(session=session, now=now, controllers=_scope(user), **kwargs)
        overdue = len(list_requests(session=session, now=now, controllers=_scope(user), overdue=True))
    return _page(
        request,
        container,
        "console/dsr_list.html",
        user,
        rows=rows,
        view=view,
        now=now,
        overdue_count=overdue,
    )


def _controllers(container: Container, user: StaffUser) -> list[str]:
    return [c for c in container.registry.controller_ids if user.principal.may_see(c)]


@router.get("/dsr/new")
def dsr_new_page(request: Request, container: ContainerDep, user: Intaker) -> HTMLResponse:
    return _page(request, container, "console/dsr_new.html", user, **_new_ctx(container, user))


def _new_ctx(container: Container, user: StaffUser) -> dict[str, Any]:
    return {
        "controllers": _controllers(container, user),
        "kinds": wf.KINDS,
        "channels": [c for c in wf.CHANNELS if c not in ("portal", "api")],
        "grounds": wf.ERASURE_GROUNDS + wf.OBJECTION_SCOPES,
        "form": {},
    }


@router.post("/dsr/new")
def dsr_new(
    request: Request,
    container: ContainerDep,
    user: Intaker,
    csrf: Csrf,
    controller: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form(max_length=32)],
    channel: Annotated[str, Form(max_length=16)],
    identities: Text,
    name: Short = "",
    address: Short = "",
    contact: Short = "",
    signed: Annotated[bool, Form()] = False,
    ground: Annotated[str, Form(max_length=32)] = "",
    details: Text = "",
    language: Annotated[str, Form(max_length=2)] = "lv",
) -> Response:
    """File a request received in person, by post, through a representative or by e-mail."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        if not user.principal.may_see(controller):
            raise InvalidInput("choose one of your companies", field="controller")
        if channel in ("portal", "api"):
            raise InvalidInput("portal and API requests arrive by themselves", field="channel")
        idents = [
            form_identity(line, container.settings.default_region)
            for line in identities.splitlines()
            if line.strip()
        ]
        with container.sessions.begin() as session:
            row = file_request(
                session=session,
                registry=container.registry,
                intake=Intake(
                    controller=controller,
                    kind=kind,
                    channel=channel,
                    identities=idents,
                    requester={"name": name, "address": address, "contact": contact, "signed": signed},
                    details=details,
                    ground=ground or None,
                    language=language,
                ),
                actor=_actor(user),
                now=container.clock.now(),
            )
            audit(
                session,
                container,
                user.principal,
                request,
                "change",
                subject_id=row.subject_id,
                controllers=[controller],
            )
            request_id = row.id
    except InvalidInput as exc:
        ctx = _new_ctx(container, user)
        ctx["form"] = {
            "controller": controller,
            "kind": kind,
            "channel": channel,
            "identities": identities,
            "name": name,
            "address": address,
            "contact": contact,
            "ground": ground,
            "details": details,
        }
        return _page(request, container, "console/dsr_new.html", user, status=422, error=exc.message, **ctx)
    return RedirectResponse(f"/console/dsr/{request_id}", status_code=303)


def _detail(
    request: Request, container: Container, user: StaffUser, request_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=_scope(user))
        ctx = {
            "r": row,
            "missing": missing_of(row),
            "events": trail(session=session, request_id=row.id),
            "runs": runs_of(session=session, request_id=row.id),
            "task": latest_task(session=session, kind="dsr_fulfil", target=row.id),
            "notices": notices_of(session=session, request_id=row.id),  # recipients told (Art. 19)
            "manual_tasks": tasks_of(session=session, request_id=row.id),
            "methods": wf.CHANNEL_METHODS.get(row.channel, ()),
            "final": row.status in wf.FINAL,
            "source_kind": row.kind in SOURCE_KINDS,
            "overdue": row.closed_at is None and row.due_at < now,
            "now": now,
            "max_extension": container.registry.policy_for(row.controller).deadlines.dsr_extension_days,
        }
        audit_request(session, container, user.principal, request, "read", row, reason=_why(row.id))
    return _page(request, container, "console/dsr_detail.html", user, status=status, **ctx, **extra)


@router.get("/dsr/{request_id}")
def dsr_detail(request_id: str, request: Request, container: ContainerDep, user: Reader) -> HTMLResponse:
    return _detail(request, container, user, request_id, done=request.query_params.get("done"))


def _act(request: Request, container: Container, user: StaffUser, request_id: str, action: Any) -> Response:
    """Run `action(session, row)` on the locked request; a refusal re-renders the page with it."""
    try:
        with container.sessions.begin() as session:
            row = lock_request(session=session, request_id=request_id, controllers=_scope(user))
            action(session, row)
            audit_request(session, container, user.principal, request, "change", row, reason=_why(row.id))
    except SargsError as exc:
        return _refused(request, container, user, request_id, exc)
    return RedirectResponse(f"/console/dsr/{request_id}?done=1", status_code=303)


@router.post("/dsr/{request_id}/verify")
async def dsr_verify(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Intaker,
    csrf: Csrf,
    method: Annotated[str, Form(max_length=32)],
    document_type: Short = "",
    certified_by: Short = "",
    representative_name: Short = "",
    representative_kind: Short = "",
    document: Short = "",
    registration_number: Short = "",
    signed_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Record how identity was checked; an e-signed file is checked (an invalid one is refused) and kept
    as its name, size, SHA-256 and the check's result."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    evidence: dict[str, Any] = {
        "document_type": document_type,
        "certified_by": certified_by,
        "representative_name": representative_name,
        "representative_kind": representative_kind,
        "document": document,
        "registration_number": registration_number,
    }
    signature = None
    if signed_file is not None and signed_file.filename:
        data = await signed_file.read(MAX_SIGNED_FILE + 1)
        try:  # the checker runs sync code (and its own event loop): off this one
            found, signature = await blocking(
                signed_file_evidence, container, file_name=signed_file.filename, data=data
            )
        except SargsError as exc:
            return _refused(request, container, user, request_id, exc)
        evidence.update(found)

    def action(session: Any, row: DsrRequest) -> None:
        verify_identity(
            session=session,
            request=row,
            method=method,
            evidence=evidence,
            actor=_actor(user),
            now=container.clock.now(),
            signature=signature,
        )

    return _act(request, container, user, request_id, action)


@router.post("/dsr/{request_id}/hold")
def dsr_hold(
    request_id: str, request: Request, container: ContainerDep, user: Intaker, csrf: Csrf, message: Text
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)

    def action(session: Session, row: DsrRequest) -> None:
        hold(session=session, request=row, message=message, actor=_actor(user), now=container.clock.now())
        # the message goes to the requester (e-mail, else SMS; always shown in the portal) with the hold
        notify_requester(container, session, row, message.strip(), what="on_hold", required=False)

    response = _act(request, container, user, request_id, action)
    return response


@router.post("/dsr/{request_id}/content")
def dsr_content(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Intaker,
    csrf: Csrf,
    name: Short = "",
    address: Short = "",
    contact: Short = "",
    signed: Annotated[bool, Form()] = False,
    details: Text = "",
) -> Response:
    """Add what the requester supplied later; a held request with nothing missing is taken up again."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    supplied: dict[str, Any] = {
        "name": name,
        "address": address,
        "contact": contact,
        "signed": signed or None,
    }
    return _act(
        request,
        container,
        user,
        request_id,
        lambda s, r: complete_content(
            session=s,
            request=r,
            requester=supplied,
            details=details or None,
            actor=_actor(user),
            now=container.clock.now(),
        ),
    )


@router.post("/dsr/{request_id}/repeat")
def dsr_repeat(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Decider,
    csrf: Csrf,
    decision: Annotated[str, Form(max_length=16)],
    fee: Short = "",
    reason: Text = "",
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    return _act(
        request,
        container,
        user,
        request_id,
        lambda s, r: decide_repeat(
            session=s,
            request=r,
            decision=decision,
            fee=fee,
            reason=reason,
            actor=_actor(user),
            now=container.clock.now(),
        ),
    )


@router.post("/dsr/{request_id}/extend")
def dsr_extend(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Decider,
    csrf: Csrf,
    days: Annotated[int, Form(ge=1, le=3650)],
    reason: Text,
    notice: Text,
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)

    def action(session: Session, row: DsrRequest) -> None:
        extend_deadline(
            session=session,
            registry=container.registry,
            request=row,
            days=days,
            reason=reason,
            notice=notice,
            actor=_actor(user),
            now=container.clock.now(),
        )
        # the requester is told before the first deadline: no extension without the notice queued
        notify_requester(container, session, row, notice.strip(), what="extended", required=True)

    response = _act(request, container, user, request_id, action)
    return response


@router.post("/dsr/{request_id}/fulfil")
def dsr_fulfil(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Decider,
    csrf: Csrf,
    reauth: Reauth,
    outcome: Annotated[str, Form(max_length=24)] = "fulfilled",
    text: Text = "",
) -> Response:
    """Access, portability, erasure: run the data sources (failed ones again). Others: the decision.
    Erasing asks for a recent sign-in (re-authentication)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    with container.read_sessions.begin() as session:
        kind = get_request(session=session, request_id=request_id, controllers=_scope(user)).kind
    if kind == "erasure" and outcome != "refused":
        reauth.require()
    if kind not in SOURCE_KINDS or outcome == "refused":
        return _act(
            request,
            container,
            user,
            request_id,
            lambda s, r: record_decision(
                session=s,
                registry=container.registry,
                request=r,
                outcome=outcome,
                text=text,
                actor=_actor(user),
                now=container.clock.now(),
                confirm=confirm_links(container),
            ),
        )
    try:  # in progress, logged and queued together; the worker runs the sources
        with container.sessions.begin() as session:
            task = queue_fulfilment(
                session,
                container.registry,
                request_id=request_id,
                actor=_actor(user),
                now=container.clock.now(),
                controllers=_scope(user),
            )
            if task is not None:
                row = get_request(session=session, request_id=request_id)
                audit_request(session, container, user.principal, request, "change", row, reason=_why(row.id))
    except SargsError as exc:
        return _refused(request, container, user, request_id, exc)
    return RedirectResponse(f"/console/dsr/{request_id}?queued=1#task", status_code=303)


@router.get("/dsr/{request_id}/progress")
def dsr_progress(request_id: str, request: Request, container: ContainerDep, user: Reader) -> HTMLResponse:
    """The fulfilment task's progress (the detail page polls it while the worker runs the sources;
    source names and states only, so no access is logged). A finished task reloads the page."""
    with container.read_sessions.begin() as session:
        row = get_request(session=session, request_id=request_id, controllers=_scope(user))
        task = latest_task(session=session, kind="dsr_fulfil", target=row.id)
        if task is not None:
            session.expunge(task)
    response = _page(
        request,
        container,
        "console/_task.html",
        user,
        task=task,
        poll=request.url.path,
        now=container.clock.now(),
    )
    if task is not None and task.status not in OPEN and request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"  # show the runs, the answer and the trail as they now are
    return response


@router.get("/dsr/{request_id}/answer")
def dsr_answer(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: Reader,
    format: Annotated[str, Query(pattern="^(pdf|html)$")] = "pdf",
    lang: Annotated[str | None, Query(pattern="^(lv|en)$")] = None,
) -> Response:
    """The answer document (the requester's language unless `lang`)."""
    document = response_document(container, request_id, controllers=_scope(user), language=lang)
    _log_access(container, user, request, request_id, "export")
    body, media = response_bytes(container, document, format)
    disposition = "attachment" if format == "pdf" else "inline"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'{disposition}; filename="answer-{request_id}.{format}"'},
    )


@router.get("/dsr/{request_id}/export")
def dsr_export(request_id: str, request: Request, container: ContainerDep, user: Reader) -> Response:
    """The machine-readable export of an access or portability request (JSON + CSV in a zip)."""
    body = portability_bytes(container, request_id, controllers=_scope(user))
    _log_access(container, user, request, request_id, "export")
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="data-{request_id}.zip"'},
    )
