"""Keep the gettext catalogues (src/sargs/locale/*/LC_MESSAGES/sargs.po) in step with the code.

    python tools/messages.py extract        # `make messages`: extract, update every .po, compile .mo
    python tools/messages.py check          # CI: fails on a missing lv/en text or a stale .po/.mo
    python tools/messages.py move [PATH…]   # old-style {"lv": …, "en": …} dicts in the source → catalogues
    python tools/messages.py move --from-ref REF   # keys of old-style dicts at a git ref → catalogues

Message ids are keys; en.po holds the English. The template (sargs.pot) is every id the code names
statically (`_("key")`, `gettext`, `ngettext`, `pgettext`, `N_` in Python and templates) together
with every id of en.po (ids built at run time, like ``'req_' ~ kind``, live only there).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "sargs"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "sargs.pot"
REQUIRED = ("lv", "en")  # every message must have these; others fall back to English
KEYWORDS = {
    "_": None,
    "gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
# The one old dict whose keys have no context: the console's and portal's texts.
NO_CONTEXT = {("entrypoints/web/i18n.py", "MESSAGES")}
FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)[^{}]*\}")


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "sargs.po"


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/sargs.po"))


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fp:
        return read_po(fp, locale=lang, domain="sargs")


# Fixed header dates and comment: `make messages` run twice changes no byte, and merges of two
# branches that both touched the catalogues conflict only where their messages do.
STAMP = datetime(2026, 12, 7, tzinfo=UTC)
HEADER = (
    "# Sargs texts ({lang}). Message ids are keys; en.po gives the English.\n# Edit, then `make messages`."
)


def write(catalog: Catalog, lang: str) -> None:
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.header_comment = HEADER.format(lang=lang)
    catalog.last_translator = catalog.language_team = "Sargs"
    catalog.version = "0"
    catalog.msgid_bugs_address = ""
    path = po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(
        buf, catalog, width=0, omit_header=False, sort_output=True, ignore_obsolete=True, no_location=True
    )
    path.write_bytes(buf.getvalue())
    out = io.BytesIO()
    write_mo(out, catalog)
    path.with_suffix(".mo").write_bytes(out.getvalue())


def new_catalog(lang: str) -> Catalog:
    catalog = Catalog(locale=lang, domain="sargs", project="Sargs", fuzzy=False)
    catalog.plural_forms  # noqa: B018  (babel fills the CLDR rule from the locale)
    return catalog


def extracted() -> dict[tuple[str | None, str], bool]:
    """(context, id) → is plural, for every id the code names statically."""
    found: dict[tuple[str | None, str], bool] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(PACKAGE), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid and isinstance(msgid, str):
            found[(context, msgid)] = found.get((context, msgid), False) or isinstance(message, tuple)
    return found


def template() -> Catalog:
    pot = Catalog(domain="sargs", project="Sargs", fuzzy=False)
    ids = extracted()
    for message in read("en"):
        if message.id:
            ids[(message.context, message.id if isinstance(message.id, str) else message.id[0])] = (
                message.pluralizable
            )
    for (context, msgid), plural in sorted(ids.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        pot.add((msgid, msgid) if plural else msgid, context=context)
    return pot


def _pot_bytes(pot: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, pot, width=0, omit_header=True, sort_output=True, no_location=True)
    return buf.getvalue()


def extract() -> None:
    pot = template()
    POT.write_bytes(_pot_bytes(pot))
    for lang in languages():
        catalog = read(lang)
        catalog.update(pot, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        write(catalog, lang)
    print(f"{len(pot)} messages; updated {', '.join(languages())}")


def _text(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string or ""]


def problems() -> list[str]:
    """What makes the catalogues wrong: missing lv/en texts, stale files, fields that differ."""
    found: list[str] = []
    pot = template()
    if not POT.exists() or POT.read_bytes() != _pot_bytes(pot):
        found.append(f"{_shown(POT)} is out of date with the code: run `make messages`")
    wanted = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in pot if m.id}
    english = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in read("en") if m.id}
    for lang in languages():
        catalog = read(lang)
        have = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
        for context, msgid in sorted(wanted - have.keys(), key=str):
            where = f"{context}: " if context else ""
            found.append(
                f"{lang}: message {where}{msgid} is missing (run `make messages`, then translate it)"
            )
        for (context, msgid), message in sorted(have.items(), key=lambda kv: str(kv[0])):
            where = f"{context}: {msgid}" if context else msgid
            texts = _text(message)
            if lang in REQUIRED and (not all(texts) or message.fuzzy):
                found.append(f"{lang}: message {where} has no {'final ' if message.fuzzy else ''}text")
            source = english.get((context, msgid))
            if source is not None and all(texts):
                fields = {f for t in _text(source) for f in FIELD.findall(t)}
                for t in texts:
                    if not set(FIELD.findall(t)) <= fields:
                        found.append(
                            f"{lang}: message {where} uses fields {sorted(set(FIELD.findall(t)) - fields)} the English lacks"
                        )
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists():
            found.append(f"{lang}: {_shown(mo)} is missing: run `make messages`")
        else:
            with mo.open("rb") as fp:
                compiled = {
                    (m.context, m.id if isinstance(m.id, str) else m.id[0]): _text(m)
                    for m in read_mo(fp)
                    if m.id
                }
            source_texts = {k: _text(m) for k, m in have.items() if any(_text(m)) and not m.fuzzy}
            if compiled != source_texts:
                found.append(f"{lang}: {_shown(mo)} is older than its .po: run `make messages`")
        if catalog.num_plurals != get_plural(lang).num_plurals:
            found.append(f"{lang}: Plural-Forms does not have the CLDR number of forms")
    return found


def check() -> int:
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"catalogues: {', '.join(languages())} complete")
    return 1 if found else 0


# --- moving old-style dicts -------------------------------------------------------------------


def _module(path: str) -> str:
    """The gettext context a module's texts carry: its dotted name inside its layer."""
    parts = Path(path).with_suffix("").parts
    parts = parts[parts.index("sargs") + 1 :] if "sargs" in parts else parts
    if parts and parts[0] in ("domains", "entrypoints", "integrations", "core"):
        parts = parts[1:]
    return ".".join(parts)


def _relative(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[parts.index("sargs") + 1 :]) if "sargs" in parts else path


def old_dicts(
    path: str, source: str
) -> Iterable[tuple[ast.stmt, str, str | None, dict[str, dict[str, str]], bool]]:
    """(statement, name, context, {lang: {key: text}}, flat) for each module-level language dict."""
    tree = ast.parse(source)
    for node in tree.body:
        target = (
            node.targets[0]
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            else getattr(node, "target", None)
        )
        value = getattr(node, "value", None)
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Dict):
            continue
        try:
            data = ast.literal_eval(value)
        except ValueError:
            continue
        if (
            not isinstance(data, dict)
            or not set(REQUIRED) <= set(data)
            or not all(isinstance(k, str) and re.fullmatch(r"[a-z]{2,3}", k) for k in data)
        ):
            continue
        name = target.id
        if all(isinstance(v, str) for v in data.values()):
            yield node, name, _module(path), {lang: {name: text} for lang, text in data.items()}, True
        elif all(isinstance(v, dict) and all(isinstance(t, str) for t in v.values()) for v in data.values()):
            context = None if (_relative(path), name) in NO_CONTEXT else f"{_module(path)}.{name}"
            yield node, name, context, data, False


def add(texts: dict[str, dict[str, str]], context: str | None, *, replace: bool) -> tuple[int, list[str]]:
    """Put `texts` ({lang: {key: text}}) into the catalogues; (added, keys whose text differs)."""
    added, differ = 0, []
    catalogs = {lang: read(lang) for lang in languages()}
    for lang, entries in texts.items():
        if lang not in catalogs:
            catalogs[lang] = new_catalog(lang)
        for key, text in entries.items():
            old = catalogs[lang].get(key, context=context)
            if not text or (old is not None and old.pluralizable):
                continue  # an empty text is no text; a plural entry was made from it by hand
            if old is None or not old.string:
                catalogs[lang].add(key, text, context=context)
                added += lang == "en"
            elif old.string != text:
                differ.append(f"{lang}: {context + ': ' if context else ''}{key}")
                if replace:
                    old.string = text
    for lang, catalog in catalogs.items():
        for key, text in texts.get("en", {}).items():
            if text and catalog.get(key, context=context) is None:
                catalog.add(key, "", context=context)  # to be translated; falls back to English
        write(catalog, lang)
    return added, differ


def move_file(path: Path) -> int:
    """Move the old dicts of one source file into the catalogues and point the code at them."""
    source = path.read_text(encoding="utf-8")
    found = list(old_dicts(str(path), source))
    if not found:
        return 0
    lines = source.splitlines(keepends=True)
    needed: set[str] = set()
    for node, name, context, texts, flat in reversed(found):
        added, differ = add(texts, context, replace=True)
        for d in differ:
            print(f"  {_shown(path)}: {d}: the dict's text replaces the catalogue's")
        start, end = node.lineno - 1, node.end_lineno or node.lineno
        if context is None:
            replacement = ""
        elif flat:
            replacement = f'{name} = Message("{context}", "{name}")\n'
            needed.add("Message")
        else:
            replacement = f'{name} = Texts("{context}")\n'
            needed.add("Texts")
        lines[start:end] = [replacement]
        print(f"{_shown(path)}: {name}: {added} new keys moved")
    text = "".join(lines)
    if needed:
        line = f"from sargs.core.i18n import {', '.join(sorted(needed))}\n"
        if line not in text:  # after the docstring and `from __future__`; ruff's isort places it
            future = re.search(r"^from __future__ import .*\n", text, flags=re.M)
            anchor = future or re.search(r"^(from|import) .*$", text, flags=re.M)
            at = (anchor.end() if future else anchor.start()) if anchor else 0
            text = text[:at] + line + text[at:]
    path.write_text(text, encoding="utf-8")
    return len(found)


def move_from_ref(ref: str) -> int:
    """Add the keys of every old-style dict at git `ref` that the catalogues still lack."""
    names = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", ref, "src/sargs"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    moved = 0
    for name in names:
        if not name.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:{name}"], check=True, capture_output=True, text=True
        ).stdout
        if '"lv"' not in source:
            continue
        for _node, var, context, texts, _flat in old_dicts(name, source):
            added, differ = add(texts, context, replace=False)
            moved += added
            if added:
                print(f"{name}: {var}: {added} new keys moved")
            for d in differ:
                print(f"  {name}: {var}: {d} differs from the catalogue (kept the catalogue's; check it)")
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract")
    sub.add_parser("check")
    move = sub.add_parser("move")
    move.add_argument("paths", nargs="*", type=Path)
    move.add_argument("--from-ref")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
        return 0
    if args.command == "check":
        return check()
    if args.from_ref:
        move_from_ref(args.from_ref)
    else:
        for path in args.paths or sorted(PACKAGE.rglob("*.py")):
            if '"lv"' in path.read_text(encoding="utf-8"):
                move_file(path.resolve())
    extract()
    return 0


if __name__ == "__main__":
    sys.exit(main())
