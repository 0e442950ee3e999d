"""The breach register over HTTP: DPO manages, auditor reads, bad input is a 422 naming the field,
the authority notification downloads as JSON and PDF, and affected people are told once."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select

from sargs.core.clock import FixedClock
from sargs.domains.sms.model import SmsOutbox
from sargs.entrypoints.container import Container
from tests.conftest import NOW

BREACH = {
    "controller": "lmt",
    "title": "Loyalty database copied",
    "nature": "An intruder copied the loyalty members table using a stolen password.",
    "breach_types": ["confidentiality", "availability"],
    "aware_at": (NOW - timedelta(hours=10)).isoformat(),
    "data_categories": ["identification", "contact"],
    "subject_categories": ["own"],
    "approx_subjects": 1200,
    "approx_records": 5000,
    "consequences": "Phishing messages to members.",
    "measures": "Passwords reset; members warned.",
    "affected_tables": ["loyalty.members"],
}


def _add(client: TestClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/breaches", json={**BREACH, **over}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_dpo_registers_assesses_notifies_and_downloads_the_notification(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    dpo = auth("dpo")
    b = _add(client, dpo)
    assert b["status"] == "open" and b["clock"]["state"] == "running"
    assert b["clock"]["remaining_seconds"] == 62 * 3600
    r = client.post(
        f"/api/v1/breaches/{b['id']}/assessment",
        json={"risk": "risk", "reasoning": "Contact data could be used for phishing."},
        headers=dpo,
    )
    assert r.status_code == 200 and r.json()["status"] == "assessed"
    r = client.get(
        f"/api/v1/breaches/{b['id']}/notification", params={"format": "pdf", "lang": "en"}, headers=dpo
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "Notification of a personal data breach" in text and "Latvijas Mobilais Telefons SIA" in text
    r = client.get(f"/api/v1/breaches/{b['id']}/notification", params={"lang": "lv"}, headers=dpo)
    content = r.json()
    assert content["breach"]["approximate_number_of_subjects"] == 1200
    assert content["authority"]["name"] == "Datu valsts inspekcija"
    assert content["breach"]["breach_types"] == ["confidentiality", "availability"]
    r = client.post(
        f"/api/v1/breaches/{b['id']}/notifications",
        json={"phase": "initial", "authority_reference": "DVI-1"},
        headers=dpo,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "notified" and body["clock"]["state"] == "met"
    assert body["notifications"][0]["authority_reference"] == "DVI-1"
    assert [c["action"] for c in body["changes"]] == ["register", "assess", "notify"]


def test_a_late_filing_without_reasons_is_422_naming_delay_reasons(
    client: TestClient, auth: Callable[..., dict[str, str]], clock: FixedClock
) -> None:
    dpo = auth("dpo")
    b = _add(client, dpo)
    client.post(
        f"/api/v1/breaches/{b['id']}/assessment",
        json={"risk": "high", "reasoning": "Phone numbers exposed."},
        headers=dpo,
    )
    clock.advance(hours=70)
    r = client.get("/api/v1/breaches", headers=dpo)
    assert r.json()[0]["clock"]["state"] == "overdue"
    r = client.post(f"/api/v1/breaches/{b['id']}/notifications", json={"phase": "initial"}, headers=dpo)
    assert r.status_code == 422 and r.json()["error"]["field"] == "delay_reasons"
    r = client.post(
        f"/api/v1/breaches/{b['id']}/notifications",
        json={"phase": "initial", "delay_reasons": "Forensics confirmed the intrusion only on day four."},
        headers=dpo,
    )
    assert r.status_code == 201 and r.json()["notifications"][0]["late"] is True


def test_bad_fields_are_422_naming_the_field(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    dpo = auth("dpo")
    r = client.post("/api/v1/breaches", json={**BREACH, "data_categories": ["dna"]}, headers=dpo)
    assert r.status_code == 422 and r.json()["error"]["field"] == "data_categories"
    r = client.post("/api/v1/breaches", json={**BREACH, "breach_types": ["secrecy"]}, headers=dpo)
    assert r.status_code == 422
    r = client.post("/api/v1/breaches", json={**BREACH, "controller": "nobody"}, headers=dpo)
    assert r.status_code == 422 and r.json()["error"]["field"] == "controller"
    r = client.post(
        "/api/v1/breaches", json={k: v for k, v in BREACH.items() if k != "aware_at"}, headers=dpo
    )
    assert r.status_code == 422
    assert client.get("/api/v1/breaches", headers=dpo).json() == []


def test_auditor_reads_and_exports_but_changes_nothing_and_others_see_nothing(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    b = _add(client, auth("dpo"))
    auditor = auth("auditor")
    assert client.get(f"/api/v1/breaches/{b['id']}", headers=auditor).status_code == 200
    assert client.get(f"/api/v1/breaches/{b['id']}/notification", headers=auditor).status_code == 200
    r = client.post(
        f"/api/v1/breaches/{b['id']}/assessment",
        json={"risk": "none", "reasoning": "not a breach at all"},
        headers=auditor,
    )
    assert r.status_code == 403
    for role in ("operator", "marketing"):
        assert client.get("/api/v1/breaches", headers=auth(role)).status_code == 403
    retail_dpo = auth("dpo", ["lytagra-lv"])
    assert client.get(f"/api/v1/breaches/{b['id']}", headers=retail_dpo).status_code == 404
    assert client.post("/api/v1/breaches", json=BREACH, headers=retail_dpo).status_code == 403


def test_high_risk_people_are_told_once_through_the_outbox(
    client: TestClient, auth: Callable[..., dict[str, str]], container: Container
) -> None:
    admin = auth("admin")
    for phone in ("+37129000501", "+37129000502"):
        r = client.post(
            "/api/v1/consents",
            json={"controller": "lmt", "identity": f"msisdn:{phone}", "purpose": "offers", "action": "grant"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    dpo = auth("dpo")
    b = _add(client, dpo)
    r = client.post(f"/api/v1/breaches/{b['id']}/subject-notices", json={}, headers=dpo)
    assert r.status_code == 409  # not assessed high
    client.post(
        f"/api/v1/breaches/{b['id']}/assessment",
        json={"risk": "high", "reasoning": "Phone numbers exposed."},
        headers=dpo,
    )
    r = client.post(f"/api/v1/breaches/{b['id']}/subject-notices", json={}, headers=dpo)
    assert r.status_code == 200 and r.json()["sms"] == 2, r.text
    r = client.post(f"/api/v1/breaches/{b['id']}/subject-notices", json={}, headers=dpo)
    assert r.json()["sms"] == 0 and r.json()["already"] == 2
    with container.read_sessions.begin() as session:
        assert (
            session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.kind == "notice")) == 2
        )
    assert client.get(f"/api/v1/breaches/{b['id']}", headers=dpo).json()["subjects_notified"] == 2
