"""Rendering pages: templates, language, CSRF token and safe headers in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sargs.core import i18n
from sargs.domains.breaches.deadlines import OVERDUE_BY
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.i18n import LANG_COOKIE, LANGUAGES, language_of, translator
from sargs.entrypoints.web.security import csrf_for, ensure_pre_cookie, new_pre_seed, set_cookie

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# `_()`, `gettext`, `ngettext` and `{% trans %}` in templates; the callables come with each page's
# context (language_context), so one environment serves every language at once.
templates.env.add_extension("jinja2.ext.i18n")
# How a breach clock past its deadline reads, for breach-clock.js to keep it current.
templates.env.globals["overdue_by"] = OVERDUE_BY

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def language_context(lang: str) -> dict[str, Any]:
    """What templates need for `lang`: gettext callables for ``_()``/``{% trans %}``/``ngettext``."""

    def gettext(key: str, **fields: Any) -> str:
        text = i18n.gettext(lang, key)
        return text.format(**fields) if fields else text

    def ngettext(key: str, plural: str, n: int, **fields: Any) -> str:
        text = i18n.ngettext(lang, key, n)
        return text.format(n=n, **fields)

    return {
        "t": translator(lang),
        "gettext": gettext,
        "ngettext": ngettext,
        "lang": lang,
        "other_lang": next(x for x in LANGUAGES if x != lang),
        "other_languages": [(x, i18n.gettext(x, "language_name")) for x in LANGUAGES if x != lang],
    }


def render(
    request: Request,
    container: Container,
    name: str,
    *,
    cookie: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render `name` with the language, its texts and a CSRF token bound to `cookie`'s session."""
    lang = language_of(request, container.settings.default_language)
    seed = request.cookies.get(cookie) or new_pre_seed(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            **language_context(lang),
            "csrf": csrf_for(container, seed),
            **context,
        },
        status_code=status,
    )
    ensure_pre_cookie(request, response, container)
    if request.query_params.get("lang") in LANGUAGES:
        set_cookie(
            response, request, container, LANG_COOKIE, lang, path="/", samesite="lax", max_age=31536000
        )
    response.headers.update(SECURITY_HEADERS)
    return response
