"""The portal's rights requests (R-DSR-2, issue 16 part 5): file one, follow its status and deadline
on a timeline, complete what a request on hold lacks, cancel it, and download the answer. The rules
are in sargs.domains.dsr.own; these routes only read forms and render pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.domains.access.scope import subject_controllers
from sargs.domains.dsr.intake import Intake, file_request, portal_identity_evidence
from sargs.domains.dsr.links import check_answer, link_key, sign_answer
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.own import cancel_own, complete_own, portal_view, timeline
from sargs.domains.dsr.purge import is_purged
from sargs.domains.dsr.service import DsrActor, list_requests
from sargs.domains.dsr.workflow import ERASURE_GROUNDS, OBJECTION_SCOPES
from sargs.domains.portal.service import REQUEST_KINDS
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import portability_bytes, response_bytes, response_document
from sargs.entrypoints.web.routes.portal import Csrf, _lang, _log, page
from sargs.entrypoints.web.security import PORTAL_COOKIE, SubjectDep, SubjectUser, check_csrf

router = APIRouter()


def _requests_page(
    request: Request, container: Container, user: SubjectUser, status: int = 200, **extra: Any
) -> HTMLResponse:
    now = container.clock.now()
    with container.sessions.begin() as session:
        items = list_requests(session=session, now=now, subject_id=user.subject_id, limit=200)
        controllers = sorted(subject_controllers(session=session, subject_id=user.subject_id))
        _log(session, container, request, user.subject_id, "read")
    names = {
        c: container.registry.controller(c).short_name
        for c in controllers
        if c in container.registry.controller_ids
    }
    return page(
        request,
        container,
        "portal/requests.html",
        status=status,
        items=list(reversed(items)),
        views={r.id: portal_view(r, now=now) for r in items},
        kinds=REQUEST_KINDS,
        grounds=ERASURE_GROUNDS + OBJECTION_SCOPES,
        names=names,
        **extra,
    )


@router.get("/requests")
def requests_page(request: Request, container: ContainerDep, user: SubjectDep) -> HTMLResponse:
    return _requests_page(request, container, user, received=request.query_params.get("received"))


@router.post("/requests")
def request_start(
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    controller: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form(max_length=32)],
    details: Annotated[str, Form(max_length=4000)] = "",
    ground: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """File a rights request; staff verify the person (signed in with a code) before work starts."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            if controller not in subject_controllers(session=session, subject_id=user.subject_id):
                raise InvalidInput("choose a company that holds your data", field="controller")
            file_request(
                session=session,
                registry=container.registry,
                intake=Intake(
                    controller=controller,
                    kind=kind,
                    channel="portal",
                    identities=portal_identity_evidence(session=session, subject_id=user.subject_id),
                    requester={"name": name, "address": address},
                    details=details,
                    ground=ground or None,
                    language=_lang(request, container),
                    subject_id=user.subject_id,
                ),
                actor=DsrActor("subject", user.subject_id),
                now=container.clock.now(),
            )
            _log(session, container, request, user.subject_id, "change", controllers=[controller])
    except InvalidInput as exc:
        return _requests_page(request, container, user, status=422, error=exc.message)
    return RedirectResponse("/portal/requests?received=1", status_code=303)


def _own_request(container: Container, user: SubjectUser, request_id: str) -> DsrRequest:
    with container.read_sessions.begin() as session:
        row = session.get(DsrRequest, request_id)
        if row is None or row.subject_id != user.subject_id:
            raise NotFound("no such request")
        session.expunge(row)
    return row


def _detail_page(
    request: Request,
    container: Container,
    user: SubjectUser,
    request_id: str,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    now = container.clock.now()
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, request_id)
        if row is None or row.subject_id != user.subject_id:
            raise NotFound("no such request")
        steps = timeline(session=session, request=row)
        view = portal_view(row, now=now)
        name = (
            container.registry.controller(row.controller).short_name
            if row.controller in container.registry.controller_ids
            else row.controller
        )
        _log(session, container, request, user.subject_id, "read", controllers=[row.controller])
        return page(
            request,
            container,
            "portal/request.html",
            status=status,
            r=row,
            steps=steps,
            view=view,
            controller_name=name,
            answer_token=sign_answer(
                link_key(container.settings.secret_key),
                request_id=row.id,
                subject_id=user.subject_id,
                now=now,
            ),
            done=request.query_params.get("done"),
            **extra,
        )


@router.get("/requests/{request_id}")
def request_detail(
    request_id: str, request: Request, container: ContainerDep, user: SubjectDep
) -> HTMLResponse:
    """One request: status, deadline, the timeline of what happened, and what the person can do."""
    return _detail_page(request, container, user, request_id)


@router.post("/requests/{request_id}/cancel")
def request_cancel(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Withdraw the request. Cancelling twice is the same as once."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            changed = cancel_own(
                session=session,
                request_id=request_id,
                subject_id=user.subject_id,
                reason=reason,
                now=container.clock.now(),
            )
            if changed:
                _log(session, container, request, user.subject_id, "change")
    except Conflict as exc:
        return _detail_page(request, container, user, request_id, status=409, error=exc.message)
    return RedirectResponse(f"/portal/requests/{request_id}?done=cancelled", status_code=303)


@router.post("/requests/{request_id}/complete")
def request_complete(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    csrf: Csrf,
    name: Annotated[str, Form(max_length=200)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    details: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Supply what a request on hold lacks; once nothing is missing it goes back to staff."""
    check_csrf(request, container, PORTAL_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            complete_own(
                session=session,
                request_id=request_id,
                subject_id=user.subject_id,
                values={"name": name, "address": address, "details": details},
                now=container.clock.now(),
            )
            _log(session, container, request, user.subject_id, "change")
    except InvalidInput as exc:
        return _detail_page(request, container, user, request_id, status=422, error=exc.message)
    except Conflict as exc:
        return _detail_page(request, container, user, request_id, status=409, error=exc.message)
    return RedirectResponse(f"/portal/requests/{request_id}?done=completed", status_code=303)


@router.get("/requests/{request_id}/answer")
def request_answer(
    request_id: str,
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    format: Annotated[str, Query(pattern="^(pdf|html)$")] = "pdf",
) -> Response:
    """The answer to the person's own request, in their language."""
    _own_request(container, user, request_id)
    document = response_document(container, request_id, language=_lang(request, container))
    with container.sessions.begin() as session:
        _log(session, container, request, user.subject_id, "export")
    body, media = response_bytes(container, document, format)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'inline; filename="answer-{request_id}.{format}"'},
    )


@router.get("/answers/{token}")
def signed_answer(
    token: str,
    request: Request,
    container: ContainerDep,
    user: SubjectDep,
    format: Annotated[str, Query(pattern="^(pdf|html)$")] = "pdf",
) -> Response:
    """The answer through a signed link that expires (ANSWER_LINK_TTL); expired: 410 and a clear page."""
    request_id, expired = check_answer(
        link_key(container.settings.secret_key), token, subject_id=user.subject_id, now=container.clock.now()
    )
    if request_id is None:
        raise NotFound("no such answer")
    if expired:
        return _detail_page(request, container, user, request_id, status=410, link_expired=True)
    return request_answer(request_id, request, container, user, format)


@router.get("/requests/{request_id}/export")
def request_export(request_id: str, request: Request, container: ContainerDep, user: SubjectDep) -> Response:
    """The person's data from an access or portability request: JSON and CSV in a zip."""
    _own_request(container, user, request_id)
    with container.read_sessions.begin() as session:
        purged = is_purged(session=session, request_id=request_id)
    if purged:
        return _detail_page(request, container, user, request_id, status=410, purged=True)
    body = portability_bytes(container, request_id)
    with container.sessions.begin() as session:
        _log(session, container, request, user.subject_id, "export")
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="my-data-{request_id}.zip"'},
    )
