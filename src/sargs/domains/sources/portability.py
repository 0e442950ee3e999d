"""The portability export (R-DSR-6, R 3.1.6): a person's rows as JSON and CSV in one zip.

The zip holds `data.json` (every source, every table), one CSV per source table
(`<source>/<table>.csv`, UTF-8 with a header row) and `README.txt` (Latvian and English) naming
each file, its row count and the data categories of its columns. The same input gives the same
bytes: fixed file order, fixed timestamps in the zip entries, sorted JSON keys.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sargs.domains.sources.reports import SourceAccess

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _csv(rows: list[dict[str, Any]]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8")


def portability_zip(accesses: list[SourceAccess], *, generated_at: datetime, subject_ref: str) -> bytes:
    """The zip of a person's rows from every source: data.json, one CSV per table, README.txt."""
    document = {
        "format": "sargs-portability/1",
        "subject": subject_ref,
        "generated_at": generated_at.isoformat(),
        "sources": [
            {
                "source": a.source,
                "tables": [{"table": t.table, "categories": t.categories, "rows": t.rows} for t in a.tables],
            }
            for a in accesses
        ],
    }
    files: list[tuple[str, bytes]] = [
        ("data.json", json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8"))
    ]
    lv = [
        "Jūsu personas dati mašīnlasāmā formā (VDAR 20. pants).",
        f"Sagatavots: {generated_at.isoformat()}",
        "data.json: visi dati vienā JSON dokumentā; *.csv: katra tabula atsevišķi (UTF-8).",
        "",
    ]
    en = [
        "Your personal data in a machine-readable form (GDPR Article 20).",
        f"Generated: {generated_at.isoformat()}",
        "data.json: all data in one JSON document; *.csv: each table on its own (UTF-8).",
        "",
    ]
    for a in accesses:
        for t in a.tables:
            name = f"{a.source}/{t.table}.csv"
            files.append((name, _csv(t.rows)))
            cats = ", ".join(f"{col}: {cat}" for col, cat in sorted(t.categories.items())) or "-"
            lv.append(f"{name} — {len(t.rows)} rindas; datu kategorijas: {cats}")
            en.append(f"{name} — {len(t.rows)} rows; data categories: {cats}")
    readme = "\n".join([*lv, "", *en, ""]).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("README.txt", readme), *files]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
