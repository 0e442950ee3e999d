"""Which language a page is in, and its texts (the gettext catalogues of sargs.core.i18n)."""

from __future__ import annotations

from fastapi import Request

from sargs.core.i18n import LANGUAGES, Catalogue

__all__ = ["LANGUAGES", "LANG_COOKIE", "accepted", "keep_lang", "language_of", "translator"]

LANG_COOKIE = "sargs_lang"


def accepted(header: str | None) -> str | None:
    """The first language of an Accept-Language header that has a catalogue (by q-value)."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().lower().split("-")[0]
        if code in LANGUAGES and q > 0:
            choices.append((-q, i, code))
    return min(choices)[2] if choices else None


def language_of(request: Request, default: str = "lv") -> str:
    """?lang= wins, then the language cookie, then Accept-Language, then the deployment's default."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        accepted(request.headers.get("accept-language")),
        default,
    ):
        if candidate in LANGUAGES:
            return candidate
    return LANGUAGES[0]


def keep_lang(request: Request, path: str) -> str:
    """`path` with the request's ?lang= when it asked for one (a redirect keeps the language)."""
    lang = request.query_params.get("lang")
    return f"{path}{'&' if '?' in path else '?'}lang={lang}" if lang in LANGUAGES else path


def translator(language: str) -> Catalogue:
    """The console's and portal's texts in `language`: ``t["key"]``, ``t.plural("key", n)``."""
    return Catalogue(language)
