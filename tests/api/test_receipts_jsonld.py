"""A consent receipt is a JSON-LD ISO/IEC TS 27560 receipt after DPVCG's DPV-27560 schema (issue
17): expanded by a JSON-LD processor (pyld), with its inline @context and nothing fetched, it is a
dpv:ConsentReceipt wrapping a dpv:ConsentRecord that says purpose, legal basis, status and time."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pyld import jsonld

from tests.api.test_consents_api import Auth, grant

DPV = "https://w3id.org/dpv#"
DCT = "http://purl.org/dc/terms/"


def _no_fetching(url: str, options: Any) -> Any:
    raise AssertionError(f"the receipt's context must be inline; pyld tried to fetch {url}")


def test_a_receipt_expands_as_a_dpv_27560_consent_receipt(client: TestClient, auth: Auth) -> None:
    h = auth("operator")
    event_id = grant(client, h).json()["event"]["id"]
    receipt = client.get(f"/api/v1/consents/{event_id}/receipt?lang=en", headers=h).json()
    assert receipt["@context"]["dpv"] == DPV

    expanded = jsonld.expand(receipt, {"documentLoader": _no_fetching})
    assert len(expanded) == 1
    top = expanded[0]
    assert top["@type"] == [DPV + "ConsentReceipt"]
    assert top[DCT + "conformsTo"] == [{"@id": "https://w3id.org/dpv/schema/dpv-27560#receipt"}]
    assert top[DCT + "identifier"] == [{"@value": event_id}]
    assert not any(key.endswith("consentReceiptID") for key in top)  # Kantara fields are not JSON-LD
    record = top[DPV + "hasRecordOfActivity"][0]
    assert record["@type"] == [DPV + "ConsentRecord"]
    assert record[DPV + "hasLegalBasis"] == [{"@id": DPV + "Consent"}]
    assert record[DPV + "hasDataController"][0][DCT + "identifier"] == [{"@value": "lmt"}]
    process = record[DPV + "hasProcess"][0]
    assert process[DPV + "hasPurpose"] == [{"@id": DPV + "DirectMarketing"}]
    status = record[DPV + "hasConsentStatus"][0]
    assert status["@type"] == [DPV + "ConsentGiven"]
    (when,) = status[DPV + "isIndicatedAtTime"]
    assert when["@type"] == "http://www.w3.org/2001/XMLSchema#dateTime" and when["@value"][:4].isdigit()

    # As RDF: every IRI the record names is absolute (a prefix missing from the context would
    # leave "dpv:…" as a relative IRI or a string).
    quads = jsonld.to_rdf(receipt, {"documentLoader": _no_fetching, "format": "application/n-quads"})
    assert f"<{DPV}ConsentRecord>" in quads and "<https://w3id.org/dpv/loc#LV>" in quads
    assert "29123456" not in quads
