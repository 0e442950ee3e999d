"""A recipient's confirmation that it acted on an erasure, rectification or restriction it was told of
(GDPR Art. 19): the e-mailed link opens a page (GET changes nothing, so a mail scanner that opens
links confirms nothing); its button confirms, once. A forged link is 400, an expired or used one 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from sargs.core.errors import Conflict, InvalidInput, NotFound, SargsError
from sargs.domains.dsr.followups import ACTION, TOLD_KINDS, confirm_by_link, peek_link
from sargs.domains.dsr.model import DsrRequest
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import CONFIRM_PATH, confirm_links
from sargs.entrypoints.web.i18n import language_of, translator
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import PRE_COOKIE, CsrfFailed, check_csrf

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Query(max_length=4096)]
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# A forged link is a bad request; an expired or used one conflicts with the notice's state.
STATUS: dict[type[SargsError], int] = {InvalidInput: 400, NotFound: 404, Conflict: 409, CsrfFailed: 403}


def _error(request: Request, container: Container, exc: SargsError) -> HTMLResponse:
    response = render(
        request,
        container,
        "error.html",
        cookie=PRE_COOKIE,
        status=STATUS.get(type(exc), 400),
        message=exc.message,
        code=exc.code,
        home="/",
    )
    response.headers.update(HEADERS)
    return response


def _page(request: Request, container: Container, token: str, *, done: bool) -> HTMLResponse:
    key = confirm_links(container).key
    lang = language_of(request, container.settings.default_language)
    with container.sessions.begin() as session:
        if done:
            notice = confirm_by_link(session=session, key=key, token=token, now=container.clock.now())
        else:
            notice = peek_link(session=session, key=key, token=token, now=container.clock.now())
        row = session.get(DsrRequest, notice.request_id)
        kind = row.kind if row is not None and row.kind in TOLD_KINDS else "erasure"
        controller = container.registry.controller(row.controller).short_name if row else ""
    text = translator(lang)["recipient_confirm_text"].format(
        controller=controller,
        ref=notice.request_id,
        kind=ACTION[kind][lang if lang in ("lv", "en") else "lv"],
    )
    response = render(
        request,
        container,
        "dsr/recipient_confirm.html",
        cookie=PRE_COOKIE,
        token=token,
        text=text,
        confirmed=done or notice.status == "confirmed",
        action=CONFIRM_PATH,
    )
    response.headers.update(HEADERS)
    return response


@router.get(CONFIRM_PATH)
def confirm_page(request: Request, container: ContainerDep, t: Token = "") -> HTMLResponse:
    try:
        return _page(request, container, t, done=False)
    except SargsError as exc:
        return _error(request, container, exc)


@router.post(CONFIRM_PATH)
def confirm(
    request: Request,
    container: ContainerDep,
    t: Annotated[str, Form(max_length=4096)] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    try:
        check_csrf(request, container, PRE_COOKIE, csrf or None)
        return _page(request, container, t, done=True)
    except SargsError as exc:
        return _error(request, container, exc)
