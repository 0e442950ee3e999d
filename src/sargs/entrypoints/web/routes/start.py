"""The start page (`/`): where a person who opens the server's address can go, and the favicon."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.web.render import HERE, render
from sargs.entrypoints.web.security import PORTAL_COOKIE

router = APIRouter(include_in_schema=False)

# (title key, help key, paths): the pages and probes the start page links to.
LINKS = (
    ("console", "start_console_help", ("/console/",)),
    ("portal", "start_portal_help", ("/portal/",)),
    ("start_api", "start_api_help", ("/docs",)),
    ("start_health", "start_health_help", ("/livez", "/readyz")),
)


@router.get("/")
def start(request: Request, container: ContainerDep) -> HTMLResponse:
    return render(request, container, "start.html", cookie=PORTAL_COOKIE, links=LINKS)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Browsers ask for it on every page (and the API docs); pages also link favicon.svg."""
    return FileResponse(
        HERE / "static" / "favicon.ico",
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )
