"""Pure ASGI middleware around the whole application (API, console and portal).

- `SecurityHeaders`: nosniff, no referrer, no framing on every response; a strict
  Content-Security-Policy on HTML pages (scripts and styles from this origin only, no inline
  code); `Cache-Control: no-store` on the API and the pages that show personal data; HSTS when
  the request came over TLS.
- `BodySizeLimit`: 413 for a body over 1 MiB, by Content-Length before the app runs, or while a
  chunked body streams in; a big body is never buffered.
- `RejectNulBytes`: 422 for a NUL character anywhere in the path, the query or a form or JSON
  body. No field of Sargs takes one, and PostgreSQL cannot store one in text.
- `RequestObserver` (outermost): a request id for every request (a proxy's sane `X-Request-ID`,
  else a new one) in the response and in every log line written meanwhile; the request counted
  in /metrics; one access-log line (`sargs.access`). Both name the route *template*
  (`/api/v1/subjects/{identity}/consents`), never the path asked for, so no phone number, e-mail
  address, token or other identity in a path reaches a log or a metric label.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: response messages pass through one by one,
so a streamed audience export keeps streaming, and the request body is inspected chunk by chunk
as the app reads it.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sargs.core.logging import request_id
from sargs.entrypoints.api.errors import error_body
from sargs.entrypoints.api.metrics import UNMATCHED, HttpMetrics

MAX_BODY = 1024 * 1024
API_PREFIX = "/api/"
PRIVATE_PREFIXES = ("/api/", "/console", "/portal")

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The OpenAPI pages (/docs, /redoc) load Swagger UI / ReDoc from a CDN with an inline start-up
# script and hold no personal data: they may not be framed, nothing more.
DOCS_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
# JSON, CSV, files: nothing in them may run or be framed if a browser opens them directly.
DATA_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, docs_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                html = headers.get("content-type", "").lower().startswith("text/html")
                if not html:
                    headers["Content-Security-Policy"] = DATA_CSP
                elif path in self.docs_paths:
                    headers["Content-Security-Policy"] = DOCS_CSP
                else:
                    headers["Content-Security-Policy"] = PAGE_CSP
                if path.startswith(PRIVATE_PREFIXES) and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if tls:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- refusing a request by its body -------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    async def answer(self, scope: Scope, send: Send) -> None:
        """The error in the API's JSON shape, or a short bilingual page for the console and portal."""
        path: str = scope.get("path", "")
        if path.startswith(API_PREFIX) or not path.startswith(("/console", "/portal")):
            body = json.dumps(error_body(self.code, self.message)).encode()
            kind = b"application/json"
        else:
            body = (
                f'<!doctype html><html lang="lv"><meta charset="utf-8"><title>{self.status}</title>'
                '<p role="alert">Pieprasījums netika pieņemts; nekas netika mainīts. <span lang="en">'
                f"The request was refused and nothing was changed: {html.escape(self.message)}.</span></p></html>"
            ).encode()
            kind = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    """Raised into the app when it reads a body chunk that is refused; the middleware answers."""


Inspector = Callable[[bytes], "Refusal | None"]


async def run_inspected(app: ASGIApp, scope: Scope, receive: Receive, send: Send, inspect: Inspector) -> None:
    """Run `app`, showing each request body chunk to `inspect` as the app reads it. On a refusal
    the app's read fails, whatever the app answers to that is dropped, and the refusal is sent
    instead (unless the app had already started its response)."""
    refusal: Refusal | None = None
    started = False

    async def inspected_receive() -> Message:
        nonlocal refusal
        if refusal is not None:
            raise _Refused
        message = await receive()
        if message["type"] == "http.request":
            refusal = inspect(message.get("body", b""))
            if refusal is not None:
                raise _Refused
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if refusal is not None and not started:
            return
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, inspected_receive, guarded_send)
    except _Refused:
        pass
    except BaseExceptionGroup as group:  # raised from inside a task group
        _, rest = group.split(_Refused)
        if rest is not None:
            raise rest from None
    if refusal is not None and not started:
        await refusal.answer(scope, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


# Routes that take a file upload, with their own limit (the route checks the file itself too).
UPLOADS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^/console/dsr/[0-9a-f]{32}/verify$"), 21 * 1024 * 1024),  # a signed file of 20 MiB
    # issue 16: the API's verify takes the signed file in base64 (20 MiB -> under 27 MiB of JSON)
    (re.compile(r"^/api/v1/dsr/requests/[0-9a-f]{32}/verify$"), 28 * 1024 * 1024),
)


class BodySizeLimit:
    """413 `too_large` for request bodies over `max_bytes` (or an upload route's own limit),
    announced or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit_for(self, path: str) -> int:
        return next((limit for pattern, limit in UPLOADS if pattern.match(path)), self.max_bytes)

    @staticmethod
    def refusal(limit: int) -> Refusal:
        return Refusal(413, "too_large", f"the request body is larger than {limit} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            await self.refusal(limit).answer(scope, send)
            return
        seen = 0

        def count(chunk: bytes) -> Refusal | None:
            nonlocal seen
            seen += len(chunk)
            return self.refusal(limit) if seen > limit else None

        await run_inspected(self.app, scope, receive, send, count)


# --- NUL characters ----------------------------------------------------------------------------


class JsonNulScanner:
    """Finds a NUL in a JSON text fed in chunks: a raw 0x00 byte, or a `\\u0000` escape (a `u0000`
    after an odd run of backslashes: `\\\\u0000` is an escaped backslash and the text "u0000")."""

    def __init__(self) -> None:
        self.tail = b""  # the last bytes of the stream, which may begin an escape
        self.run = 0  # backslashes immediately before `tail`

    def feed(self, chunk: bytes) -> bool:
        if b"\x00" in chunk:
            return True
        data = self.tail + chunk
        start = 0
        while (at := data.find(b"u0000", start)) != -1:
            first = at
            while first > 0 and data[first - 1] == 0x5C:
                first -= 1
            run = at - first + (self.run if first == 0 else 0)
            if run % 2 == 1:
                return True
            start = at + 1
        if len(data) > 4:
            head, self.tail = data[:-4], data[-4:]
            stripped = head.rstrip(b"\\")
            self.run = len(head) - len(stripped) + (self.run if not stripped else 0)
        else:
            self.tail = data
        return False


class FormNulScanner:
    """Finds a NUL in a form fed in chunks: raw, or (urlencoded forms only) encoded as %00."""

    def __init__(self, *, urlencoded: bool) -> None:
        self.urlencoded = urlencoded
        self.tail = b""

    def feed(self, chunk: bytes) -> bool:
        if b"\x00" in chunk:
            return True
        if not self.urlencoded:
            return False
        data = self.tail + chunk
        self.tail = data[-2:]
        return b"%00" in data


NUL_MESSAGE = "NUL characters (\\u0000, %00) are not accepted in any field"


class RejectNulBytes:
    """422 `invalid_input` for a NUL anywhere in the path, the query string, or a JSON or form body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.refusal = Refusal(422, "invalid_input", NUL_MESSAGE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query:
            await self.refusal.answer(scope, send)
            return
        kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        scanner: JsonNulScanner | FormNulScanner
        if kind == "application/json" or kind.endswith("+json"):
            scanner = JsonNulScanner()
        elif kind == "multipart/form-data" and any(p.match(str(scope.get("path", ""))) for p, _ in UPLOADS):
            # An upload route takes a binary file (a signed container holds NUL bytes, issue 16); the
            # route refuses NUL in its text fields itself (dsr.workflow.check_evidence).
            await self.app(scope, receive, send)
            return
        elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            scanner = FormNulScanner(urlencoded=kind == "application/x-www-form-urlencoded")
        else:
            await self.app(scope, receive, send)
            return
        await run_inspected(
            self.app, scope, receive, send, lambda chunk: self.refusal if scanner.feed(chunk) else None
        )


# --- request id, metrics, access log ----------------------------------------------------------

access_log = logging.getLogger("sargs.access")
REQUEST_ID_HEADER = b"x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
# Probes and scrapes come every few seconds: their access lines are DEBUG, not INFO.
QUIET_ROUTES = frozenset({"/livez", "/readyz", "/metrics", "/api/v1/health"})


def new_request_id() -> str:
    """32 random hex characters."""
    return os.urandom(16).hex()


class RouteTemplates:
    """The route template that answered a request (`/api/v1/dsr/{request_id}`), from the route the
    router put in the ASGI scope, with the prefixes of the routers it was included under."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._by_route: dict[int, str] | None = None
        self._mounts: tuple[str, ...] = ()

    def _walk(self, routes: Sequence[Any], prefix: str, by_route: dict[int, str], mounts: list[str]) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI >= 0.16x nests included routers
            if included is not None:
                self._walk(included.routes, prefix + route.include_context.prefix, by_route, mounts)
            elif isinstance(route, Mount):
                mounts.append(prefix + route.path)
            else:
                path = getattr(route, "path_format", None) or getattr(route, "path", None)
                if isinstance(path, str):
                    by_route[id(route)] = prefix + path

    def _build(self) -> dict[int, str]:
        by_route: dict[int, str] = {}
        mounts: list[str] = []
        self._walk(self.app.routes, "", by_route, mounts)
        self._mounts = tuple(sorted(mounts, key=len, reverse=True))
        self._by_route = by_route
        return by_route

    def of(self, scope: Scope) -> str:
        """The template of the route that answered, `UNMATCHED` when none did."""
        by_route = self._by_route if self._by_route is not None else self._build()
        route = scope.get("route")
        if route is not None:
            template = by_route.get(id(route)) or getattr(route, "path_format", None)
            return template if isinstance(template, str) else UNMATCHED
        path: str = scope.get("path", "")
        for mount in self._mounts:
            if path.startswith(mount + "/"):
                return mount + "/{path}"
        return UNMATCHED


class RequestObserver:
    """Request id, metrics and access log for every HTTP request (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: RouteTemplates,
        metrics: HttpMetrics | None = None,
        log_access: bool = True,
        trust_request_id: bool = True,
    ) -> None:
        self.app = app
        self.templates = templates
        self.metrics = metrics
        self.log_access = log_access
        self.trust_request_id = trust_request_id

    def request_id_of(self, scope: Scope) -> str:
        if self.trust_request_id:
            for key, value in scope.get("headers", ()):
                if key == REQUEST_ID_HEADER:
                    given = value.decode("latin-1")
                    if SANE_REQUEST_ID.fullmatch(given):
                        return str(given)
                    break
        return new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = self.request_id_of(scope)
        encoded = rid.encode()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, encoded)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self.templates.of(scope)
            method: str = scope.get("method", "GET")
            if self.metrics is not None:
                self.metrics.observe(route=route, method=method, status=status, seconds=seconds)
            if self.log_access:
                level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
                if access_log.isEnabledFor(level):
                    access_log.log(
                        level,
                        f"{method} {route} {status} {seconds * 1000:.1f} ms",
                        extra={
                            "method": method,
                            "route": route,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 2),
                        },
                    )
            request_id.reset(token)


def install_middleware(
    app: FastAPI,
    *,
    metrics: HttpMetrics | None = None,
    log_access: bool = True,
    trust_request_id: bool = True,
    observe: bool = True,
) -> None:
    """The request observer outermost (it times and logs refusals too), then security headers (so
    refusals carry them), then the size limit, then NUL."""
    docs = tuple(p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p)
    app.add_middleware(RejectNulBytes)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY)
    app.add_middleware(SecurityHeaders, docs_paths=docs)
    if observe:
        app.add_middleware(
            RequestObserver,
            templates=RouteTemplates(app),
            metrics=metrics,
            log_access=log_access,
            trust_request_id=trust_request_id,
        )


__all__ = [
    "MAX_BODY",
    "BodySizeLimit",
    "JsonNulScanner",
    "RejectNulBytes",
    "RequestObserver",
    "RouteTemplates",
    "SecurityHeaders",
    "install_middleware",
]
