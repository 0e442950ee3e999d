"""Pages and endpoints for website visitors and e-mail recipients (issue 7), mounted on the app.

- `/.well-known/gpc.json`: the website honours Global Privacy Control; the website is found by the
  request's host among the policies' `web.allowed_origins` (or `?controller=`), and the date comes
  from its policy (`web.gpc_last_update`, else the policy's published date). A customer's own origin
  proxies its `/.well-known/gpc.json` here (README, "Cookie banner").
- `/t/o/{token}.gif` and `/t/c/{token}`: open pixel and click redirect of marketing e-mails;
  recorded only under tracking consent, the redirect works regardless, only to the signed URL.
- `/u/{token}`: RFC 8058 one-click unsubscribe (POST `List-Unsubscribe=One-Click`: 200, no
  redirect, no cookies) and a lv/en page to unsubscribe or subscribe again (GET, CSRF-checked form).
- `/portal/cookie-consent`: the cookie banner's endpoint when the site shares Sargs' origin, so a
  visitor signed in to the portal is linked to the choice.
- `/demo-site/`: a sample website with the cookie banner and two tagged scripts.
- CORS on `/api/v1/web/` for the origins the policies list.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sargs.core.errors import InvalidInput, PermissionDenied, SargsError
from sargs.domains.mail.campaign import set_subscription, subscription
from sargs.domains.mail.links import LinkPayload, link_key, verify
from sargs.domains.web.consent_mode import gpc_for
from sargs.domains.web.tracking import record_interaction
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.api.errors import error_body
from sargs.entrypoints.api.routers.web import client_key, limiter, save_choice
from sargs.entrypoints.container import Container
from sargs.entrypoints.offload import blocking
from sargs.entrypoints.web.i18n import language_of, translator
from sargs.entrypoints.web.render import HERE, render
from sargs.entrypoints.web.security import PRE_COOKIE, CsrfFailed, check_csrf

router = APIRouter(include_in_schema=False)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
DEMO_SITE = HERE / "static" / "demo-site"


@router.get("/.well-known/gpc.json")
def gpc_json(request: Request, container: ContainerDep, controller: str | None = None) -> JSONResponse:
    """Global Privacy Control support resource (GPC specification, section 3.5)."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    body = gpc_for(container.registry.policies, host=host.split(",")[0].strip(), controller=controller)
    if body is None:
        what = f"controller {controller!r} has no website" if controller else "no loaded policy has a website"
        return JSONResponse(error_body("not_found", f"{what} (policy section web:)"), status_code=404)
    return JSONResponse(body, headers={"Cache-Control": "max-age=3600"})


# --- e-mail tracking -------------------------------------------------------------------------------


def _key(container: Container) -> bytes:
    return link_key(container.settings.secret_key)


def _track(container: Container, link: LinkPayload, kind: str) -> str | None:
    with container.sessions.begin() as session:
        return record_interaction(
            session=session, registry=container.registry, payload=link, kind=kind, now=container.clock.now()
        )


@router.get("/t/o/{token}.gif")
async def open_pixel(token: str, container: ContainerDep) -> Response:
    """A 1x1 GIF; the open is recorded only if the recipient's tracking consent is in force."""
    link = verify(_key(container), token, kind="o")
    if link is not None:
        await blocking(_track, container, link, "open")
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


def _with_click_token(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("sargs_t", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@router.get("/t/c/{token}")
async def click(token: str, container: ContainerDep) -> Response:
    """Redirect to the signed URL; the click is recorded only under tracking consent. A forged or
    altered token is 404 and redirects nowhere."""
    link = verify(_key(container), token, kind="c")
    if link is None or not link.url or urlsplit(link.url).scheme not in ("http", "https"):
        return PlainTextResponse("not found", status_code=404, headers=NO_STORE)
    # The landing page gets the click's random id (for reporting a conversion), never the signed
    # token, which names the person and the message: it cannot link visits across e-mails.
    click_id = await blocking(_track, container, link, "click")
    target = _with_click_token(link.url, click_id) if click_id else link.url
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


# --- unsubscribe ---------------------------------------------------------------------------------


def _unsubscribe_link(container: Container, token: str) -> LinkPayload | None:
    return verify(_key(container), token, kind="u")


@router.post("/u/{token}")
async def one_click_unsubscribe(token: str, request: Request, container: ContainerDep) -> Response:
    """RFC 8058: `List-Unsubscribe=One-Click` in the body withdraws the consent at once."""
    link = _unsubscribe_link(container, token)
    if link is None:
        return PlainTextResponse("not found", status_code=404, headers=NO_STORE)
    body = (await request.body())[:4096]
    fields = dict(parse_qsl(body.decode("utf-8", "replace")))
    if fields.get("List-Unsubscribe") != "One-Click":
        return JSONResponse(
            error_body(
                "invalid_input", "the body must be List-Unsubscribe=One-Click", field="List-Unsubscribe"
            ),
            status_code=422,
            headers=NO_STORE,
        )

    def work() -> None:
        with container.sessions.begin() as session:
            set_subscription(
                session=session,
                registry=container.registry,
                link=link,
                subscribe=False,
                now=container.clock.now(),
            )

    try:
        await blocking(work)
    except SargsError as exc:
        return JSONResponse(error_body(exc.code, exc.message), status_code=422, headers=NO_STORE)
    return PlainTextResponse("unsubscribed", headers=NO_STORE)


def _page(
    request: Request,
    container: Container,
    token: str,
    link: LinkPayload | None,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    if link is None:
        return render(
            request, container, "mail/unsubscribe.html", cookie=PRE_COOKIE, bad_link=True, status=404
        )
    lang = language_of(request, container.settings.default_language)
    try:
        with container.read_sessions.begin() as session:
            sub = subscription(session=session, registry=container.registry, link=link)
        purpose = container.registry.purpose(link.controller, sub.purpose)
        company = container.registry.controller(link.controller)
    except InvalidInput:
        return render(
            request, container, "mail/unsubscribe.html", cookie=PRE_COOKIE, bad_link=True, status=404
        )
    response = render(
        request,
        container,
        "mail/unsubscribe.html",
        cookie=PRE_COOKIE,
        status=status,
        token=token,
        subscribed=sub.subscribed,
        controller_name=company.short_name,
        purpose_title=purpose.title.get(lang),
        message=message,
    )
    return response


@router.get("/u/{token}")
def unsubscribe_page(token: str, request: Request, container: ContainerDep) -> Response:
    """A page to unsubscribe, or subscribe again, by hand."""
    return _page(request, container, token, _unsubscribe_link(container, token))


@router.post("/u/{token}/manage")
async def manage_subscription(token: str, request: Request, container: ContainerDep) -> Response:
    """The page's form: unsubscribe or subscribe again (CSRF token bound to the visitor's cookie)."""
    link = _unsubscribe_link(container, token)
    form = await request.form()
    csrf = form.get("csrf")
    try:
        check_csrf(request, container, PRE_COOKIE, csrf if isinstance(csrf, str) else None)
    except CsrfFailed as exc:
        return render(
            request,
            container,
            "error.html",
            cookie=PRE_COOKIE,
            status=403,
            message=exc.message,
            code=exc.code,
            home=f"/u/{token}",
        )
    action = form.get("action")
    if link is None or action not in ("subscribe", "unsubscribe"):
        return _page(request, container, token, None)
    t = translator(language_of(request, container.settings.default_language))

    def work() -> str:
        try:
            with container.sessions.begin() as session:
                outcome = set_subscription(
                    session=session,
                    registry=container.registry,
                    link=link,
                    subscribe=action == "subscribe",
                    now=container.clock.now(),
                )
        except PermissionDenied:
            return t["resub_expired"]
        if outcome is not None and outcome.rejection is not None:
            return t["resub_refused"]
        return t["resub_done"] if action == "subscribe" else t["unsub_done"]

    message = await blocking(work)
    return _page(request, container, token, link, message=message)


# --- the cookie banner, same-origin (linked to a signed-in portal visitor) ------------------------


@router.post("/portal/cookie-consent")
async def portal_cookie_consent(request: Request, container: ContainerDep) -> Response:
    """As POST /api/v1/web/cookie-consents, with the portal session cookie linking the subject."""
    try:
        limiter(request, "consents", container.settings.web_rate_limit_per_minute).hit(client_key(request))
        raw = (await request.body())[: 16 * 1024 + 1]
        if len(raw) > 16 * 1024:
            raise InvalidInput("the body is too large")
        receipt = await blocking(save_choice, container, request, raw)
    except SargsError as exc:
        status = 429 if exc.code == "rate_limited" else 422
        return JSONResponse(
            error_body(exc.code, exc.message, field=exc.details.get("field")), status_code=status
        )
    return JSONResponse(receipt.model_dump(mode="json"), status_code=201)


# --- the demo's sample website ---------------------------------------------------------------------


@router.get("/demo-site")
def demo_site_root() -> Response:
    return RedirectResponse("/demo-site/", status_code=307)


@router.get("/demo-site/")
def demo_site() -> Response:
    """A sample website of the telecom: the banner, a statistics and a marketing script."""
    return FileResponse(Path(DEMO_SITE / "index.html"), media_type="text/html")


# --- CORS for the banner's API ------------------------------------------------------------------


class WebApiCors:
    """Starlette's CORSMiddleware, only for /api/v1/web/ and only for the listed origins."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/api/v1/web/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_visitors(app: FastAPI, container: Container) -> None:
    """Add the visitor pages and endpoints, and CORS for the policies' website origins."""
    origins = sorted({o for p in container.registry.policies if p.web for o in p.web.allowed_origins})
    app.include_router(router)
    app.add_middleware(WebApiCors, origins=origins)
