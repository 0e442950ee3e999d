"""Domain errors -> HTTP responses, all in one shape: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from sargs.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotEligible,
    NotFound,
    PermissionDenied,
    PolicyError,
    RateLimited,
    SargsError,
    Unauthenticated,
)

log = logging.getLogger("sargs.api")
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_HTML = (
    '<!doctype html><html lang="lv"><meta charset="utf-8"><title>503</title>'
    "<p>Datubāze pašlaik nav pieejama; nekas netika mainīts. Lūdzu, mēģiniet vēlreiz pēc brīža.</p>"
    '<p lang="en">The database is unavailable; nothing was changed. Please try again shortly.</p></html>'
)

STATUS: dict[type[SargsError], int] = {
    InvalidInput: 422,
    NotEligible: 422,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    Unauthenticated: 401,
    PolicyError: 422,
    RateLimited: 429,
    ConfigurationError: 500,
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


OPENDSR_PREFIX = "/api/v1/opendsr/"


def opendsr_error(
    status: int, message: str, problems: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> JSONResponse:
    """The OpenDSR error object (spec 7.6): the HTTP status as an integer code, the message, and
    one detail per problem; bad input is 400 there. `field` stays beside it, as on every route."""
    status = 400 if status == 422 else status
    details = [
        {"domain": "Validation" if status == 400 else "Request", "reason": p.get("reason", "invalid"), **p}
        for p in problems
    ]
    first = problems[0].get("field") if problems else None
    body = {"error": {"code": status, "message": message, "errors": details, "field": first}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def _status_for(exc: SargsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SargsError)
    async def _domain(request: Request, exc: SargsError) -> JSONResponse:
        status = _status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if request.url.path.startswith(OPENDSR_PREFIX):
            field = exc.details.get("field")
            problem = {"reason": exc.code, "message": exc.message, "field": field}
            return opendsr_error(status, exc.message, [problem], headers)
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            problems.append({"field": ".".join(loc) or None, "message": err.get("msg", "invalid")})
        first = problems[0] if problems else {"field": None, "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
        if request.url.path.startswith(OPENDSR_PREFIX):
            reasons = [str(err.get("type", "invalid")) for err in exc.errors()]
            return opendsr_error(
                422, message, [{**p, "reason": r} for p, r in zip(problems, reasons, strict=True)]
            )
        return JSONResponse(
            error_body("invalid_input", message, field=first["field"], problems=problems), status_code=422
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        """The database is down, restarting, or too busy: fail fast, say so, let the caller retry.
        The request's transaction was rolled back, so nothing was half-written."""
        # No path: it may name a person (`/subjects/customer:C-1001/...`); the request id joins this
        # line to its access-log line, which names the route template.
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if not request.url.path.startswith("/api/"):
            return HTMLResponse(UNAVAILABLE_HTML, status_code=503, headers=headers)
        return JSONResponse(
            error_body("unavailable", "the database is unavailable; nothing was changed, try again shortly"),
            status_code=503,
            headers=headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
        if request.url.path.startswith(OPENDSR_PREFIX):  # e.g. a body that is not JSON
            reason = codes.get(exc.status_code, "http_error")
            return opendsr_error(
                exc.status_code, str(exc.detail), [{"reason": reason, "message": str(exc.detail)}]
            )
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
