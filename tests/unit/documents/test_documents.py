"""The shared document contract: PDF and HTML renderings keep every word, Latvian letters and long tables."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from sargs.domains.documents.model import Bullets, Document, Heading, KeyValues, Paragraph, Table
from sargs.entrypoints.web.documents import DOCUMENT_CSP, STYLE, render_document_html
from sargs.integrations.documents.pdf import render_pdf

LATVIAN = "āčēģīķļņšūž ĀČĒĢĪĶĻŅŠŪŽ"


def _doc(rows: int = 3) -> Document:
    return Document(
        title=f"Paziņojums par datu aizsardzības pārkāpumu {LATVIAN}",
        language="lv",
        subtitle="SIA Piemērs",
        footer="Sargs · sagatavots 2026-11-23",
        blocks=[
            Heading("Pārkāpuma būtība"),
            Paragraph("Neatļauta piekļuve klientu datubāzei.\nOtrā rinda."),
            KeyValues([("Kontaktpersona", "dpo@piemers.lv"), ("Skartās personas", "~1200")]),
            Table(
                ["Nr.", "Tabula", "Ieraksti"], [[str(i), f"klienti_{i}", "ļoti daudz"] for i in range(rows)]
            ),
            Bullets(["Paroles nomainītas", "Ziņots policijai"]),
        ],
    )


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_is_a_pdf_whose_text_keeps_latvian_diacritics() -> None:
    pdf = render_pdf(_doc())
    assert pdf.startswith(b"%PDF")
    pages, text = _text(pdf)
    assert pages == 1
    for word in [
        "āčēģīķļņšūž",
        "Pārkāpuma būtība",
        "Otrā rinda",
        "dpo@piemers.lv",
        "klienti_2",
        "Ziņots policijai",
    ]:
        assert word in text, word
    assert "Lapa 1/1" in text
    assert "sagatavots 2026-11-23" in text


def test_a_300_row_table_continues_over_pages_with_every_row_and_numbered_pages() -> None:
    pages, text = _text(render_pdf(_doc(rows=300)))
    assert pages >= 5
    for i in (0, 150, 299):
        assert f"klienti_{i}" in text
    assert f"Lapa {pages}/{pages}" in text
    # the header row is repeated on every page the table continues on
    assert text.count("Ieraksti") >= pages


def test_english_documents_number_pages_in_english_and_control_characters_do_not_break_the_pdf() -> None:
    doc = Document(title="Breach\x00 notification", language="en", blocks=[Paragraph("a\x07b")])
    _, text = _text(render_pdf(doc))
    assert "Page 1/1" in text
    assert "Breach" in text


def test_html_is_standalone_escaped_and_keeps_the_structure() -> None:
    doc = Document(
        title="<script>alert(1)</script>",
        language="en",
        blocks=[
            Heading("Section & more"),
            Paragraph("<b>not bold</b>"),
            KeyValues([("Key <x>", 'value "q"')]),
            Table(["A"], [["<img src=x onerror=alert(1)>"]]),
            Bullets(["<i>item</i>"]),
        ],
    )
    html = render_document_html(doc)
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Section &amp; more" in html
    assert '<th scope="col">A</th>' in html
    assert "<link" not in html and "src=" not in html.replace("&lt;img src=x", "")


def test_html_keeps_latvian_text_and_its_style_matches_the_served_csp() -> None:
    html = render_document_html(_doc(rows=2))
    assert LATVIAN in html and "klienti_1" in html
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None and style.group(1) == STYLE
    assert "style-src 'sha256-" in DOCUMENT_CSP and "script-src" not in DOCUMENT_CSP


def test_the_served_stylesheet_is_the_inline_style_and_pages_can_link_it_instead() -> None:
    from pathlib import Path

    import sargs.entrypoints.web.documents as documents

    served = Path(documents.__file__).parent / "static" / "document.css"
    assert served.read_text(encoding="utf-8").strip() == STYLE
    html = render_document_html(_doc(), stylesheet=documents.STYLESHEET)
    assert '<link rel="stylesheet" href="/static/document.css">' in html and "<style>" not in html
