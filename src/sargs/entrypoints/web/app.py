"""The staff console (/console) and the data-subject portal (/portal), mounted on the API app."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sargs.core.errors import PermissionDenied, RateLimited, SargsError
from sargs.entrypoints.container import Container
from sargs.entrypoints.web import panel_requests  # noqa: F401  (registers the rights-request panel)
from sargs.entrypoints.web.i18n import keep_lang
from sargs.entrypoints.web.render import HERE, render
from sargs.entrypoints.web.routes import (
    console,
    console_breaches,
    console_dsr,
    console_followups,
    console_reports,
    console_retention,
    console_signin,
    portal,
    portal_requests,
    recipients,
    start,
)
from sargs.entrypoints.web.security import (
    PORTAL_COOKIE,
    STAFF_COOKIE,
    CsrfFailed,
    LoginRequired,
    ReauthRequired,
)
from sargs.entrypoints.web.visitors import install_visitors

WEB_PREFIXES = ("/console", "/portal")


def install_web(app: FastAPI, container: Container) -> None:
    """Add the web pages, their static files and HTML error pages to `app`."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(console_signin.router, prefix="/console", include_in_schema=False)
    app.include_router(console.router, prefix="/console", include_in_schema=False)
    app.include_router(console_dsr.router, prefix="/console", include_in_schema=False)
    app.include_router(console_followups.router, prefix="/console", include_in_schema=False)
    app.include_router(console_breaches.router, prefix="/console", include_in_schema=False)
    app.include_router(console_reports.router, prefix="/console", include_in_schema=False)
    app.include_router(console_retention.router, prefix="/console", include_in_schema=False)
    app.include_router(portal.router, prefix="/portal", include_in_schema=False)
    app.include_router(portal_requests.router, prefix="/portal", include_in_schema=False)
    app.include_router(start.router)
    app.include_router(recipients.router)
    install_visitors(app, container)
    api_handler = app.exception_handlers[SargsError]

    async def web_errors(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(WEB_PREFIXES):
            result: Any = api_handler(request, exc)
            if inspect.isawaitable(result):
                result = await result
            assert isinstance(result, Response)
            return result
        assert isinstance(exc, SargsError)
        if isinstance(exc, ReauthRequired):
            return render(
                request,
                container,
                "console/reauth.html",
                cookie=STAFF_COOKIE,
                status=401,
                action=request.url.path,
                fields=exc.fields,
                asks_password=exc.asks_password,
                asks_code=exc.asks_code,
                failed=bool(exc.details.get("failed")),
                me=getattr(request.state, "principal", None),
            )
        if isinstance(exc, LoginRequired):
            if request.method == "GET":  # the sign-in page keeps the language asked for
                signin = f"/{exc.where}/" + ("login" if exc.where == "console" else "signin")
                return RedirectResponse(keep_lang(request, signin), 303)
            status = 401
        elif isinstance(exc, CsrfFailed | PermissionDenied):
            status = 403
        elif isinstance(exc, RateLimited):
            status = 429
        else:
            status = 404 if exc.code == "not_found" else 422
        cookie = STAFF_COOKIE if request.url.path.startswith("/console") else PORTAL_COOKIE
        return render(
            request,
            container,
            "error.html",
            cookie=cookie,
            status=status,
            message=exc.message,
            code=exc.code,
            home="/console/" if cookie == STAFF_COOKIE else "/portal/",
        )

    app.add_exception_handler(SargsError, web_errors)
