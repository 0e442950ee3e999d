"""Render a Document as a standalone, printable HTML page (template web/templates/document.html)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from sargs.domains.documents.model import Block, Bullets, Document, Heading, KeyValues, Paragraph, Table

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

STYLE = (
    "body{font:15px/1.5 'DejaVu Sans',system-ui,sans-serif;color:#1b1f24;margin:0}"
    "main{max-width:60rem;margin:0 auto;padding:1.5rem}"
    "h1{font-size:1.6rem;margin:0 0 .25rem}.subtitle{color:#57606a;margin:0 0 1rem}"
    "h2{font-size:1.2rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #d0d7de}"
    "h3{font-size:1.05rem;margin:1rem 0 .4rem}"
    "table{border-collapse:collapse;width:100%;margin:0 0 1rem;font-size:.9rem}"
    "th,td{text-align:left;vertical-align:top;padding:.3rem .45rem;border:1px solid #d0d7de}"
    "th{background:#eef1f4}thead{display:table-header-group}tr{break-inside:avoid}"
    ".kv{display:grid;grid-template-columns:minmax(10rem,max-content) 1fr;gap:.25rem 1rem;margin:0 0 1rem}"
    ".kv dt{font-weight:700}.kv dd{margin:0;white-space:pre-line}"
    "p{white-space:pre-line}footer{margin-top:2rem;color:#57606a;font-size:.85rem}"
    "@media print{body{font-size:11pt}main{max-width:none;padding:0}h2{break-after:avoid}}"
)

#: The Content-Security-Policy to serve a document page with: nothing but its own inline style.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_LEVELS = {1: 2, 2: 2, 3: 3, 4: 4}


@dataclass(frozen=True)
class _View:
    kind: str
    value: Block
    level: int = 2


def _view(block: Block) -> _View:
    if isinstance(block, Heading):
        return _View("heading", block, _LEVELS.get(block.level, 4))
    if isinstance(block, Paragraph):
        return _View("paragraph", block)
    if isinstance(block, KeyValues):
        return _View("keyvalues", block)
    if isinstance(block, Table):
        return _View("table", block)
    if isinstance(block, Bullets):
        return _View("bullets", block)
    raise TypeError(f"unknown document block {type(block).__name__}")


STYLESHEET = "/static/document.css"  # the same STYLE, for pages served under the site-wide CSP


def render_document_html(doc: Document, *, stylesheet: str | None = None) -> str:
    """The document as a standalone HTML page: inline style (serve it with DOCUMENT_CSP), or, with
    `stylesheet`, a link to it (for pages under the site's CSP, which refuses inline styles)."""
    template = _ENV.get_template("document.html")
    # A downloaded document must print well offline, so it carries its style inline. Pages the
    # console serves pass `stylesheet` instead: the site's CSP (and its template check) allows no
    # inline style there.
    inline = Markup("<style>") + Markup(STYLE) + Markup("</style>")
    return template.render(
        doc=doc, blocks=[_view(b) for b in doc.blocks], inline_style=inline, stylesheet=stylesheet
    )
