"""Security headers (issue 8, part 5) on every response of the console, the portal and the API,
set by pure ASGI middleware (sargs.entrypoints.api.middleware) so streamed exports keep streaming."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from httpx import Response

from sargs.bootstrap import create_app
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.api.middleware import install_middleware
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.render import HERE
from tests.security.asgi import http_scope, run_asgi
from tests.web_helpers import console_login

PAGE_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp(response: Response) -> dict[str, str]:
    value = response.headers.get("content-security-policy", "")
    parts = (p.strip().split(None, 1) for p in value.split(";") if p.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def assert_common(response: Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", response.url
    assert response.headers.get("referrer-policy") in ("no-referrer", "same-origin"), response.url
    assert response.headers.get("x-frame-options") == "DENY", response.url
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), response.url


def assert_page(response: Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert_common(response)
    assert csp(response) == PAGE_CSP, response.headers.get("content-security-policy")
    assert response.headers.get("cache-control") == "no-store"


@pytest.fixture
def web(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def test_console_and_portal_pages_get_a_strict_csp_and_refuse_framing(
    web: TestClient, staff_member: Callable[..., tuple[str, str]]
) -> None:
    for path in ("/console/login", "/portal/signin", "/console/login?lang=en"):
        assert_page(web.get(path))
    email, password = staff_member("dpo")
    console_login(web, email, password)
    for path in ("/console/", "/console/staff", "/console/audit", "/console/find?kind=email&value=x"):
        assert_page(web.get(path))
    htmx_partial = web.get("/console/find?kind=msisdn&value=1", headers={"HX-Request": "true"})
    assert_page(htmx_partial)
    error_page = web.get("/console/receipts/nope?reason=ticket 42")
    assert error_page.status_code == 404
    assert_page(error_page)


def test_no_hsts_over_plain_http_and_hsts_over_tls(container: Container) -> None:
    with TestClient(create_app(container)) as plain:
        for path in ("/console/login", "/api/v1/health", "/static/sargs.css"):
            assert "strict-transport-security" not in plain.get(path).headers
    with TestClient(create_app(container), base_url="https://sargs.example") as tls:
        for path in ("/console/login", "/portal/signin", "/api/v1/health", "/static/sargs.css"):
            hsts = tls.get(path).headers.get("strict-transport-security", "")
            assert re.fullmatch(r"max-age=\d{7,}.*", hsts), (path, hsts)


def test_api_answers_are_nosniff_and_never_cached(
    web: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    with_person = {**auth("admin"), "X-Access-Reason": "ticket 42"}
    answers = [
        web.get("/api/v1/health"),
        web.get(
            "/api/v1/consents/check",
            params={"controller": "lmt", "identity": "msisdn:+37129000001", "purpose": "offers"},
            headers=auth("operator"),
        ),
        web.get("/api/v1/subjects/msisdn:+37129000001/consents", headers=with_person),  # 404
        web.get("/api/v1/audit", headers=with_person),
        web.get("/api/v1/staff", headers=with_person),
        web.get("/api/v1/sms/messages", params={"identity": "msisdn:+37129000001"}, headers=with_person),
        web.get("/api/v1/audit"),  # 401
        web.get("/api/v1/nothing-here"),  # 404
    ]
    for r in answers:
        assert r.headers["content-type"].startswith("application/json"), r.url
        assert_common(r)
        assert r.headers.get("cache-control") == "no-store", r.url
        assert csp(r).get("default-src") == "'none'", r.url


def test_streamed_audience_export_carries_the_headers(
    web: TestClient, container: Container, auth: Callable[..., dict[str, str]]
) -> None:
    for n in range(3):
        r = web.post(
            "/api/v1/consents",
            json={
                "controller": "lmt",
                "identity": f"msisdn:+3712900020{n}",
                "purpose": "offers",
                "action": "grant",
            },
            headers=auth("operator"),
        )
        assert r.status_code == 201
    export = web.get(
        "/api/v1/audiences/offers", params={"controller": "lmt", "channel": "sms"}, headers=auth("marketing")
    )
    assert export.status_code == 200 and export.text.count("\n") == 4
    assert export.headers["content-type"].startswith("text/csv")
    assert_common(export)
    assert export.headers.get("cache-control") == "no-store"


def test_redirects_static_files_refusals_and_docs_carry_the_headers(web: TestClient) -> None:
    redirect = web.get("/console/", follow_redirects=False)
    assert redirect.status_code == 303
    assert_common(redirect)
    assert redirect.headers.get("cache-control") == "no-store"

    script = web.get("/static/htmx.min.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert_common(script)  # nosniff: served only as the type it says it is

    too_big = web.post(
        "/api/v1/consents",
        content=b"{" + b" " * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    assert_common(too_big)

    docs = web.get("/docs")  # Swagger UI from its CDN, with an inline start-up script: no framing
    assert docs.status_code == 200
    assert_common(docs)
    assert csp(docs)["object-src"] == "'none'"


def test_templates_need_no_inline_script_style_or_event_handler() -> None:
    """What lets the CSP forbid inline code: every template loads scripts and styles from files."""
    offenders = []
    for path in sorted(Path(HERE / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",  # inline script
            r"<style\b",
            r"\sstyle=",
            r"\son[a-z]+=",  # onclick= and friends
            r"javascript:",
            r"\bhx-on",  # htmx inline handlers need eval
            r"\bhx-vals=['\"]\s*js:",
        ):
            offenders += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text, re.IGNORECASE)]
    assert offenders == []
    base = (HERE / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"allowEval": false' in base and '"includeIndicatorStyles": false' in base


# --- streaming is not buffered --------------------------------------------------------------------


def test_a_streamed_response_reaches_the_client_chunk_by_chunk() -> None:
    """The second chunk is produced only after the client has received the first one: a
    middleware that buffered the response would never let this request finish."""
    first_arrived = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"first\n"
        await asyncio.wait_for(first_arrived.wait(), timeout=5)
        yield b"second\n"

    app = FastAPI()

    @app.get("/api/v1/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(body(), media_type="text/csv")

    install_middleware(app)
    messages: list[dict[str, Any]] = []

    requested = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and b"first" in message.get("body", b""):
            first_arrived.set()
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    run_asgi(app, http_scope("GET", "/api/v1/stream"), receive, send, timeout=10)
    start = messages[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["type"] == "http.response.start" and headers["x-content-type-options"] == "nosniff"
    chunks = [m["body"] for m in messages[1:] if m.get("body")]
    assert chunks == [b"first\n", b"second\n"]


def test_the_demo_subject_page_is_also_protected(
    web: TestClient, container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    with container.sessions.begin() as s:
        sid = create_subject(
            session=s,
            identities=[Identity("msisdn", "+37129000301")],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
    email, password = staff_member("operator")
    console_login(web, email, password)
    assert_page(web.get(f"/console/subjects/{sid}"))
