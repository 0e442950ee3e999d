"""Translated texts from gettext catalogues (``sargs/locale/<lang>/LC_MESSAGES/sargs.mo``).

Message ids are keys (``"sign_in"``, ``"ret_summary"``), not English sentences: ``en.po`` gives
the English. A text that belongs to one module carries that module's name as its gettext context
(``msgctxt "dsr.response.KIND_NAMES"``), so the same key can mean different things in two places.
Plurals follow the CLDR rules each catalogue's ``Plural-Forms`` header states (Latvian and Russian
have three forms). A language is data: every folder under ``locale/`` with a compiled catalogue
is one, and a text a catalogue lacks falls back to English, then Latvian.

The catalogues are edited as ``.po`` files; ``make messages`` extracts, updates and compiles them
(tools/messages.py), and ``tools/messages.py check`` fails when an lv or en text is missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "sargs"
FALLBACK = ("en", "lv")  # where a text missing from a language's catalogue is looked up next
_FIRST = ("lv", "en")  # the order languages are offered in: the seeds' language first


def _discover() -> tuple[str, ...]:
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return tuple(sorted(found, key=lambda c: (_FIRST.index(c) if c in _FIRST else len(_FIRST), c)))


LANGUAGES: tuple[str, ...] = _discover()


def supported(language: str | None) -> bool:
    return language in LANGUAGES


@cache
def _catalogue(language: str) -> Translations:
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fp:
        return Translations(fp, domain=DOMAIN)


def chain(language: str) -> tuple[str, ...]:
    """`language`, then the fallbacks, each once, only languages that have a catalogue."""
    return tuple(dict.fromkeys(x for x in (language, *FALLBACK) if x in LANGUAGES))


def _key(context: str | None, key: str) -> str:
    return key if context is None else f"{context}\x04{key}"


def lookup(language: str, key: str, context: str | None = None) -> str | None:
    """The text of `key` in `language` (or its fallbacks), None if no catalogue has it."""
    wanted = _key(context, key)
    for lang in chain(language):
        catalog: dict[Any, str] = _catalogue(lang)._catalog
        text = catalog.get(wanted)
        if text is None and (wanted, 0) in catalog:
            text = catalog[(wanted, catalog_plural_index(lang, 1))]
        if text:
            return text
    return None


def catalog_plural_index(language: str, n: int) -> int:
    return int(_catalogue(language).plural(n))


def gettext(language: str, key: str, context: str | None = None) -> str:
    """The text of `key`; the key itself if no catalogue has it (as gettext does)."""
    return lookup(language, key, context) or key


def ngettext(language: str, key: str, n: int, context: str | None = None) -> str:
    """The plural form of `key` for the count `n`, by the language's CLDR rule."""
    wanted = _key(context, key)
    for lang in chain(language):
        catalog: dict[Any, str] = _catalogue(lang)._catalog
        text = catalog.get((wanted, catalog_plural_index(lang, n)))
        if text:
            return text
    return gettext(language, key, context)


def keys(context: str | None = None) -> list[str]:
    """Every key of `context` (None: the keys without a context) in the English catalogue."""
    found: dict[str, None] = {}
    for raw in _catalogue(FALLBACK[0])._catalog:
        msgid = raw[0] if isinstance(raw, tuple) else raw
        if not msgid:
            continue
        ctx, sep, key = msgid.rpartition("\x04")
        if (ctx if sep else None) == context:
            found[key] = None
    return list(found)


class Catalogue(Mapping[str, str]):
    """One language's texts of one context, read like the dict it replaces: ``t["key"]``."""

    def __init__(self, language: str, context: str | None = None) -> None:
        self._language = language
        self._context = context

    def __getitem__(self, key: str) -> str:
        text = lookup(self._language, key, self._context)
        if text is None:
            raise KeyError(key)
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(keys(self._context))

    def __len__(self) -> int:
        return len(keys(self._context))

    def plural(self, key: str, n: int) -> str:
        """The form of `key` for the count `n` (CLDR plural rules of the language)."""
        return ngettext(self._language, key, n, self._context)


class Texts(Mapping[str, Catalogue]):
    """A module's texts in every language: ``TEXTS[lang]["key"]`` (was ``{"lv": {...}, "en": {...}}``)."""

    def __init__(self, context: str | None) -> None:
        self._context = context

    @property
    def context(self) -> str | None:
        return self._context

    def __getitem__(self, language: str) -> Catalogue:
        if language not in LANGUAGES:
            raise KeyError(language)
        return Catalogue(language, self._context)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


class Message(Mapping[str, str]):
    """One text in every language: ``SUBJECT[lang]`` (was ``{"lv": "...", "en": "..."}``)."""

    def __init__(self, context: str, key: str) -> None:
        self._context = context
        self._key = key

    def __getitem__(self, language: str) -> str:
        if language not in LANGUAGES:
            raise KeyError(language)
        return gettext(language, self._key, self._context)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)

    def plural(self, language: str, n: int) -> str:
        return ngettext(language, self._key, n, self._context)
