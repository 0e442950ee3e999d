"""Render a Document to PDF with fpdf2 and the vendored DejaVu Sans (Latvian diacritics included)."""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from sargs.core.i18n import Message
from sargs.domains.documents.model import Bullets, Document, Heading, KeyValues, Paragraph, Table

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PAGE = Message("documents.pdf", "_PAGE")
_HEADING_SIZES = {1: 16.0, 2: 13.0, 3: 11.0}
_HEADER_FILL = (230, 230, 230)


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text)


class _Pdf(FPDF):
    """An A4 page with the document's footer and `Page n/N` at the bottom."""

    def __init__(self, *, footer_text: str | None, language: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer_text
        self._page_word = _PAGE.get(language, _PAGE["en"])

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        if self._footer_text:
            self.cell(0, 4, _clean(self._footer_text), align="L")
            self.set_x(self.l_margin)
        self.cell(0, 4, f"{self._page_word} {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _table(
    pdf: _Pdf, headers: list[str] | None, rows: list[list[str]], *, widths: tuple[int, ...] | None
) -> None:
    columns = len(headers) if headers is not None else max((len(r) for r in rows), default=1)
    pdf.set_font(FAMILY, "", 9)
    with pdf.table(
        first_row_as_headings=headers is not None,
        headings_style=FontFace(emphasis="BOLD", fill_color=_HEADER_FILL),
        repeat_headings=1,
        col_widths=widths,
        text_align="LEFT",
        line_height=1.4 * pdf.font_size,
        padding=1,
    ) as table:
        if headers is not None:
            heading = table.row()
            for text in headers:
                heading.cell(_clean(text))
        for values in rows:
            row = table.row()
            cells = [*values[:columns], *([""] * (columns - len(values)))]
            for text in cells:
                row.cell(_clean(text))
    pdf.ln(3)


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes: A4, DejaVu Sans, tables that continue across pages, page numbers."""
    pdf = _Pdf(footer_text=doc.footer, language=doc.language)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_clean(doc.title))
    pdf.set_lang(doc.language)
    pdf.set_creator("Sargs")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 18)
    pdf.multi_cell(0, 8, _clean(doc.title), new_x="LMARGIN", new_y="NEXT")
    if doc.subtitle:
        pdf.set_font(FAMILY, "", 11)
        pdf.multi_cell(0, 6, _clean(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for block in doc.blocks:
        if isinstance(block, Heading):
            size = _HEADING_SIZES.get(block.level, 11.0)
            pdf.ln(2)
            pdf.set_font(FAMILY, "B", size)
            pdf.multi_cell(0, size * 0.5, _clean(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Paragraph):
            pdf.set_font(FAMILY, "", 10)
            pdf.multi_cell(0, 5, _clean(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif isinstance(block, KeyValues):
            if block.rows:
                _table(pdf, None, [[k, v] for k, v in block.rows], widths=(1, 2))
        elif isinstance(block, Table):
            _table(pdf, block.headers, block.rows, widths=None)
        elif isinstance(block, Bullets):
            pdf.set_font(FAMILY, "", 10)
            for item in block.items:
                pdf.set_x(pdf.l_margin + 3)
                pdf.multi_cell(0, 5, "• " + _clean(item), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    return bytes(pdf.output())
