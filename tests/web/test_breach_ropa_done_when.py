"""Issue 6 (breaches and the record of processing), Done-when: in the demo data the DPO registers a
breach, exports its notification before the clock runs out, and downloads the Art. 30 record for
each controller of both example policies — through the ASGI app, as the console serves it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from pypdf import PdfReader

from sargs.bootstrap import create_app
from sargs.core.clock import FixedClock
from sargs.entrypoints.cli.demo_data import generate
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.web_helpers import console_csrf, console_login


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


def test_dpo_registers_a_breach_exports_it_in_time_and_downloads_every_record(
    container: Container, clock: FixedClock, staff_member: Callable[..., tuple[str, str]]
) -> None:
    stats = generate(container=container, subjects=60)
    assert stats.subjects == 60
    dpo = staff_member("dpo")
    with TestClient(create_app(container)) as browser:
        console_login(browser, *dpo)
        assert "/console/dashboard" in browser.get("/console/").text  # the nav leads to the DPO's pages

        # 1. Register the breach: the company became aware two hours ago.
        aware = NOW - timedelta(hours=2)
        r = browser.post(
            "/console/breaches",
            data={
                "csrf": console_csrf(browser),
                "controller": "lmt",
                "title": "Lojalitātes programmas dalībnieku saraksts publiski pieejams",
                "nature": "Eksports ar dalībnieku tālruņa numuriem bija pieejams publiskā saitē 3 dienas.",
                "aware_at": aware.strftime("%Y-%m-%dT%H:%M"),
                "breach_types": ["confidentiality"],
                "data_categories": ["identification", "contact"],
                "subject_categories": ["own"],
                "approx_subjects": "1200",
                "approx_records": "1200",
                "consequences": "Nevēlami zvani un krāpnieciskas īsziņas.",
                "measures": "Saite dzēsta, piekļuves žurnāli pārbaudīti.",
                "affected_tables": ["loyalty.members"],
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        breach_id = r.headers["location"].rsplit("/", 1)[1]
        listing = browser.get("/console/breaches").text
        assert re.search(r'role="timer" data-deadline="[^"]+"[^>]*>70 h 00 min<', listing)

        # 2. Assess it and export the notification while the clock still runs.
        clock.advance(hours=20)
        console_login(browser, *dpo)  # the next working day: a new console session
        r = browser.post(
            f"/console/breaches/{breach_id}/assess",
            data={
                "csrf": console_csrf(browser),
                "risk": "high",
                "reasoning": "Tālruņa numuri ļauj krāpniecisku saziņu.",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        page = browser.get(f"/console/breaches/{breach_id}").text
        assert "50 h 00 min" in page
        pdf = browser.get(f"/console/breaches/{breach_id}/notification?format=pdf&lang=lv")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        text = _pdf_text(pdf.content)
        for expected in (
            "Datu valsts inspekcija",
            "Latvijas Mobilais Telefons SIA",
            "Eksports ar dalībnieku tālruņa numuriem",
            "1200",
            "Nevēlami zvani",
            "Saite dzēsta",
            "augsts risks",
            "konfidencialitāte",
        ):
            assert expected in text, expected
        content = browser.get(f"/console/breaches/{breach_id}/notification?format=json&lang=en").json()
        assert content["breach"]["notification_deadline"] == (aware + timedelta(hours=72)).isoformat()
        assert content["breach"]["aware_at"] == aware.isoformat()

        # ... and record the filing: in time, so no reasons for delay are needed.
        r = browser.post(
            f"/console/breaches/{breach_id}/notify",
            data={
                "csrf": console_csrf(browser),
                "phase": "initial",
                "filed_at": clock.now().strftime("%Y-%m-%dT%H:%M"),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "ziņots laikā" in browser.get(f"/console/breaches/{breach_id}").text

        # 3. Download the Art. 30 record of every controller of both example policies.
        ropa = browser.get("/console/ropa").text
        controllers = [c.id for p in container.registry.policies for c in p.controllers]
        assert len(controllers) == 9 and {"lmt", "lmt-retail", "lytagra-lv", "okainiu-zub"} <= set(
            controllers
        )
        for cid in controllers:
            assert f"/console/ropa/{cid}?format=pdf" in ropa
            record = browser.get(f"/console/ropa/{cid}", params={"format": "pdf", "lang": "lv"})
            assert record.status_code == 200 and record.content.startswith(b"%PDF"), cid
            legal_name = container.registry.controller(cid).legal_name
            assert legal_name.split()[0] in _pdf_text(record.content), cid
            rows = list(
                csv.reader(
                    io.StringIO(browser.get(f"/console/ropa/{cid}?format=csv").content.decode("utf-8-sig"))
                )
            )
            assert len(rows) > 1 and all(row[0] == cid for row in rows[1:])
