"""E-signed requests over the API (issue 16): the signed file, in base64, is checked when the request
is verified; a valid signature is kept with the request, an invalid one is refused with the reason
and nothing is written. Real HTTP through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sargs.domains.dsr.model import DsrEvent, DsrRequest
from sargs.entrypoints.container import Container
from sargs.integrations.esign.checker import EsignChecker
from tests.esign_fixtures import Esign, make_esign

Auth = Callable[..., dict[str, str]]
BODY = {
    "controller": "lytagra-lv",
    "kind": "access",
    "channel": "email",
    "identities": ["email:juris@example.lv"],
    "requester": {"name": "Juris Bērziņš", "address": "Cēsis", "contact": "juris@example.lv", "signed": True},
}


@pytest.fixture
def esign(container: Container, tmp_path: Path) -> Esign:
    made = make_esign(tmp_path / "trust")
    container.signatures = EsignChecker(made.trust)
    return made


def _file(client: TestClient, op: dict[str, str], **requester: str) -> str:
    body = {**BODY, "requester": {**BODY["requester"], **requester}}  # type: ignore[dict-item]
    r = client.post("/api/v1/dsr/requests", json=body, headers=op)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _verify(client: TestClient, op: dict[str, str], rid: str, data: bytes) -> object:
    return client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={
            "method": "e_signature",
            "signed_file": base64.b64encode(data).decode(),
            "file_name": "p.asice",
        },
        headers=op,
    )


def test_a_validly_signed_request_is_verified_with_the_signer_kept(
    client: TestClient, auth: Auth, container: Container, esign: Esign
) -> None:
    op = auth("operator", ["lytagra-lv"])
    rid = _file(client, op)
    r = _verify(client, op, rid, esign.signed())
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    signature = r.json()["verification"]["signature"]  # type: ignore[attr-defined]
    assert signature["status"] == "valid" and signature["qualified"] is True
    assert (signature["signer_name"], signature["personal_code"]) == ("Juris Bērziņš", "PNOLV-222222-22222")
    assert signature["name_matches"] is True
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.status == "verified"
        assert row.verification and row.verification["evidence"]["file_name"] == "p.asice"
        assert len(row.verification["evidence"]["sha256"]) == 64


def test_a_tampered_file_is_refused_with_the_reason_and_nothing_is_written(
    client: TestClient, auth: Auth, container: Container, esign: Esign
) -> None:
    op = auth("operator", ["lytagra-lv"])
    rid = _file(client, op)
    r = _verify(client, op, rid, esign.tampered())
    assert r.status_code == 422  # type: ignore[attr-defined]
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert error["field"] == "signed_file"
    assert (
        error["message"]
        == "the e-signature is invalid: the file pieprasijums.txt was changed after it was signed"
    )
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.status == "received" and row.verification is None
        assert [e.action for e in session.query(DsrEvent).filter_by(request_id=rid)] == ["received"]


def test_an_untrusted_signer_and_a_plain_zip_are_refused(
    client: TestClient, auth: Auth, tmp_path: Path, esign: Esign
) -> None:
    op = auth("operator", ["lytagra-lv"])
    stranger = make_esign(tmp_path / "other")  # signs well, under a CA the store does not hold
    rid = _file(client, op)
    r = _verify(client, op, rid, stranger.signed())
    assert r.status_code == 422 and "trusted certification authority" in r.json()["error"]["message"]  # type: ignore[attr-defined]
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("pieprasijums.txt", "not signed")
    r = _verify(client, op, rid, out.getvalue())
    assert r.status_code == 422 and "not an ASiC-E container" in r.json()["error"]["message"]  # type: ignore[attr-defined]
    bad = client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={"method": "e_signature", "signed_file": "not base64!"},
        headers=op,
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "signed_file"


def test_a_signer_who_is_not_the_requester_is_shown_as_such(
    client: TestClient, auth: Auth, esign: Esign
) -> None:
    op = auth("operator", ["lytagra-lv"])
    rid = _file(client, op, name="Anna Liepa")
    r = _verify(client, op, rid, esign.signed())
    assert r.status_code == 200  # type: ignore[attr-defined]
    assert r.json()["verification"]["signature"]["name_matches"] is False  # type: ignore[attr-defined]


def test_a_signed_file_is_only_evidence_of_an_e_signature(
    client: TestClient, auth: Auth, esign: Esign
) -> None:
    op = auth("operator", ["lytagra-lv"])
    body = {**BODY, "channel": "api"}
    rid = client.post("/api/v1/dsr/requests", json=body, headers=op).json()["id"]
    r = client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={
            "method": "id_document",
            "evidence": {"document_type": "passport"},
            "signed_file": base64.b64encode(esign.signed()).decode(),
        },
        headers=op,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "method"
