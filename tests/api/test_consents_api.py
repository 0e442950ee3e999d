"""The consent API through real HTTP requests to the ASGI app."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.domains.consent.model import ConsentEvent, ConsentRejection
from sargs.domains.subjects.model import SubjectIdentity
from sargs.entrypoints.container import Container
from tests.conftest import NOW

Auth = Callable[..., dict[str, str]]
PHONE = "msisdn:+37129123456"


def grant(client: TestClient, headers: dict[str, str], **overrides: object) -> object:
    body = {"controller": "lmt", "identity": PHONE, "purpose": "offers", "action": "grant", "channel": "api"}
    body.update(overrides)  # type: ignore[arg-type]
    return client.post("/api/v1/consents", json=body, headers=headers)


def count(container: Container, model: type) -> int:
    with container.read_sessions.begin() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_health_needs_no_token_and_names_the_loaded_policies(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert {p["id"] for p in r.json()["policies"]} == {"lmt-group", "lytagra-group"}


def test_requests_without_or_with_a_wrong_token_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/consents/check").status_code == 401
    r = client.get(
        "/api/v1/consents/check?controller=lmt&identity=msisdn:29123456&purpose=offers",
        headers={"Authorization": "Bearer sargs_nope_nope"},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_grant_creates_a_subject_an_event_and_the_new_state(
    client: TestClient, auth: Auth, container: Container
) -> None:
    r = grant(client, auth("operator"), identity="msisdn:2912 3456")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["event"]["action"] == "grant" and body["event"]["channel"] == "api"
    assert body["event"]["policy_version"] == "2021-01-12"
    assert body["event"]["evidence"]["ip"].startswith("ip-hmac:")
    assert body["state"] == {**body["state"], "status": "granted", "allowed": True}
    with container.read_sessions.begin() as s:
        assert s.scalar(select(SubjectIdentity.value)) == "+37129123456"


def test_check_answers_now_and_at_any_past_instant(client: TestClient, auth: Auth) -> None:
    h = auth("admin")
    grant(client, h, occurred_at=(NOW - timedelta(days=10)).isoformat())
    grant(client, h, action="withdraw", occurred_at=(NOW - timedelta(days=1)).isoformat())
    url = f"/api/v1/consents/check?controller=lmt&identity={PHONE}&purpose=offers"
    now = client.get(url, headers=h).json()
    assert now["allowed"] is False and now["status"] == "withdrawn"
    past = client.get(
        url + "&at=" + (NOW - timedelta(days=5)).isoformat().replace("+", "%2B"), headers=h
    ).json()
    assert past["allowed"] is True and past["status"] == "granted"
    before = client.get(url + "&at=2020-01-01T00:00:00Z", headers=h).json()
    assert before == {"allowed": False, "status": "none", "since": None, "event_id": None}


def test_check_for_an_unknown_person_is_not_allowed_rather_than_an_error(
    client: TestClient, auth: Auth
) -> None:
    r = client.get(
        "/api/v1/consents/check?controller=lmt&identity=msisdn:29999999&purpose=offers",
        headers=auth("marketing"),
    )
    assert r.status_code == 200 and r.json()["allowed"] is False


def test_bad_input_is_422_with_a_message_and_writes_nothing(
    client: TestClient, auth: Auth, container: Container
) -> None:
    h = auth("operator")
    cases = [
        ({"purpose": "nope"}, "no purpose 'nope'"),
        ({"controller": "acme"}, "unknown controller 'acme'"),
        ({"identity": "msisdn:12"}, "phone number"),
        ({"identity": "29123456"}, "identity must look like"),
        ({"action": "maybe"}, "action"),
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "email_link"}, "does not take consent over channel 'email_link'"),
        ({"occurred_at": "not a date"}, "occurred_at"),
        ({"occurred_at": (NOW + timedelta(days=1)).isoformat()}, "future"),
        ({"evidence": {"k": "x" * 600}}, "500 characters"),
    ]
    for override, message in cases:
        r = grant(client, h, **override)
        assert r.status_code == 422, (override, r.text)
        assert message in r.json()["error"]["message"], (override, r.json())
    assert (
        client.post(
            "/api/v1/consents", content=b"{not json", headers={**h, "Content-Type": "application/json"}
        ).status_code
        == 422
    )
    assert count(container, ConsentEvent) == 0


def test_ineligible_grant_is_422_with_the_reason_and_the_refusal_is_recorded(
    client: TestClient, auth: Auth, container: Container
) -> None:
    r = grant(client, auth("operator"), purpose="metadata")
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "not_eligible" and "LMT clients" in err["message"] and err["rejection_id"]
    assert count(container, ConsentEvent) == 0
    assert count(container, ConsentRejection) == 1


def test_idempotency_key_replays_with_200_and_conflicts_with_409(
    client: TestClient, auth: Auth, container: Container
) -> None:
    h = {**auth("operator"), "Idempotency-Key": "abc-1"}
    first = grant(client, h)
    again = grant(client, h)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json()["event"]["id"] == first.json()["event"]["id"]
    conflict = grant(client, h, action="withdraw")
    assert conflict.status_code == 409
    assert count(container, ConsentEvent) == 1


def test_subject_consents_show_current_state_history_and_refusals(client: TestClient, auth: Auth) -> None:
    h = {**auth("admin"), "X-Access-Reason": "complaint 2026-17"}
    grant(client, h)
    grant(client, h, action="withdraw")
    grant(client, h, purpose="metadata")  # refused: not an own client
    r = client.get(f"/api/v1/subjects/{PHONE}/consents", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [s["status"] for s in body["current"]] == ["withdrawn"]
    assert [e["action"] for e in body["history"]] == ["grant", "withdraw"]
    assert [x["purpose"] for x in body["rejections"]] == ["metadata"]
    assert client.get("/api/v1/subjects/email:nobody@example.lv/consents", headers=h).status_code == 404


def test_receipt_has_kantara_and_iso_27560_fields_without_the_phone_number(
    client: TestClient, auth: Auth
) -> None:
    h = auth("operator")
    event_id = grant(client, h).json()["event"]["id"]
    r = client.get(f"/api/v1/consents/{event_id}/receipt?lang=en&download=true", headers=h)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    receipt = r.json()
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == event_id
    assert receipt["piiControllers"][0]["piiController"] == "Latvijas Mobilais Telefons SIA"
    assert receipt["services"][0]["purposes"][0]["purposeCategory"] == [
        "https://w3id.org/dpv#DirectMarketing"
    ]
    record = receipt["dpv:hasRecordOfActivity"]
    assert record["dpv:hasConsentStatus"]["@type"] == "https://w3id.org/dpv#ConsentGiven"
    assert record["dpv:hasLegalBasis"] == "https://w3id.org/dpv#Consent"
    assert "29123456" not in json.dumps(receipt)
    assert client.get("/api/v1/consents/unknown/receipt", headers=h).status_code == 404


def test_a_token_scoped_to_one_controller_cannot_touch_another(client: TestClient, auth: Auth) -> None:
    h = {**auth("admin", controllers=["lytagra-lv"]), "X-Access-Reason": "scope test"}
    r = grant(client, h)  # lmt
    assert r.status_code == 403
    ok = grant(client, h, controller="lytagra-lv", purpose="direct-marketing")
    assert ok.status_code == 201, ok.text
    grant(client, auth("admin"))  # an lmt event for the same person, by an unscoped token
    seen = client.get(f"/api/v1/subjects/{PHONE}/consents", headers=h).json()
    assert {e["controller"] for e in seen["history"]} == {"lytagra-lv"}
    unscoped = {**auth("admin"), "X-Access-Reason": "scope test"}
    lmt_event = client.get(f"/api/v1/subjects/{PHONE}/consents", headers=unscoped).json()["history"]
    lmt_id = next(e["id"] for e in lmt_event if e["controller"] == "lmt")
    assert client.get(f"/api/v1/consents/{lmt_id}/receipt", headers=h).status_code == 403


def test_audience_streams_csv_and_ndjson_of_current_consents(client: TestClient, auth: Auth) -> None:
    admin = auth("admin")
    for n in range(5):
        grant(client, admin, identity=f"msisdn:2910000{n}")
    grant(client, admin, identity="msisdn:29100003", action="withdraw")
    h = auth("marketing")
    r = client.get("/api/v1/audiences/offers?controller=lmt&channel=sms&format=csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["contact"] for row in rows) == [
        "+37129100000",
        "+37129100001",
        "+37129100002",
        "+37129100004",
    ]
    r = client.get("/api/v1/audiences/offers?controller=lmt&format=ndjson", headers=h)
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 4 and all("contact" not in line for line in lines)


def test_audience_with_a_channel_the_purpose_does_not_allow_is_422(client: TestClient, auth: Auth) -> None:
    h = auth("marketing")
    r = client.get("/api/v1/audiences/offers?controller=lmt&channel=email", headers=h)
    assert r.status_code == 422 and "does not allow contact over 'email'" in r.json()["error"]["message"]
    r = client.get("/api/v1/audiences/service?controller=lmt", headers=h)
    assert r.status_code == 422 and "not consent-based" in r.json()["error"]["message"]
    empty = client.get("/api/v1/audiences/offers?controller=lmt", headers=h)
    assert empty.status_code == 200 and empty.text.strip() == "subject_id,since"


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/consents", "/api/v1/consents/check", "/api/v1/audiences/{purpose}"} <= set(paths)
