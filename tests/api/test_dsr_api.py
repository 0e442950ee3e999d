"""Rights requests and the OpenDSR-style endpoint through the ASGI app; signed status callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.domains.dsr.callbacks import SIGNATURE_HEADER, HmacSigner, deliver_callbacks
from sargs.domains.dsr.model import DsrCallback, DsrEvent
from sargs.entrypoints.container import Container
from sargs.integrations.opendsr.http import HttpCallbackPoster, RefusedDestination

Auth = Callable[..., dict[str, str]]
REASON = {"X-Access-Reason": "dsr api test"}
BODY = {
    "controller": "lytagra-lv",
    "kind": "access",
    "channel": "post",
    "identities": ["email:juris@example.lv"],
    "requester": {"name": "Juris B", "address": "Cēsis", "contact": "juris@example.lv", "signed": True},
}


def test_staff_file_verify_and_read_a_request_with_its_trail(client: TestClient, auth: Auth) -> None:
    op = auth("operator", ["lytagra-lv"])
    r = client.post("/api/v1/dsr/requests", json=BODY, headers=op)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["status"] == "received" and r.json()["missing"] == []
    wrong = client.post(
        f"/api/v1/dsr/requests/{rid}/verify", json={"method": "id_document", "evidence": {}}, headers=op
    )
    assert (
        wrong.status_code == 422 and wrong.json()["error"]["field"] == "method"
    )  # post needs a certified copy
    ok = client.post(
        f"/api/v1/dsr/requests/{rid}/verify",
        json={"method": "certified_copy", "evidence": {"certified_by": "notāre I. Liepa"}},
        headers=op,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "verified"
    detail = client.get(f"/api/v1/dsr/requests/{rid}", headers=op).json()
    assert [e["action"] for e in detail["trail"]] == ["received", "verified"]
    assert client.post(f"/api/v1/dsr/requests/{rid}/fulfil", headers=op).status_code == 403


def test_bad_requests_are_refused_naming_the_field_and_write_nothing(
    client: TestClient, auth: Auth, container: Container
) -> None:
    op = auth("operator", ["lytagra-lv"])
    for patch, field in (
        ({"kind": "erasure"}, "ground"),
        ({"kind": "nonsense"}, "kind"),
        ({"identities": ["phone:123"]}, "identity"),
        ({"controller": "lmt"}, None),
    ):
        r = client.post("/api/v1/dsr/requests", json={**BODY, **patch}, headers=op)
        assert r.status_code in (403, 422), r.text
        if field:
            assert r.json()["error"]["field"] == field
    with container.sessions.begin() as session:
        assert session.scalar(select(DsrEvent.id)) is None
    assert client.get("/api/v1/dsr/requests/nope", headers={**auth("dpo"), **REASON}).status_code == 404


def test_a_request_outside_the_callers_controllers_does_not_exist_for_it(
    client: TestClient, auth: Auth
) -> None:
    rid = client.post("/api/v1/dsr/requests", json=BODY, headers=auth("operator", ["lytagra-lv"])).json()[
        "id"
    ]
    other = auth("operator", ["lmt"])
    assert client.get(f"/api/v1/dsr/requests/{rid}", headers=other).status_code == 404
    assert rid not in {x["id"] for x in client.get("/api/v1/dsr/requests", headers=other).json()}


def test_opendsr_file_follow_and_cancel_with_signed_callbacks(
    client: TestClient, auth: Auth, container: Container
) -> None:
    headers = auth("operator", ["lytagra-lv"])
    body = {
        "regulation": "gdpr",
        "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
        "subject_request_type": "erasure",
        "submitted_time": "2026-11-23T09:00:00Z",
        "subject_identities": [
            {"identity_type": "email", "identity_value": "mara@example.lv", "identity_format": "raw"}
        ],
        "api_version": "1.0",
        "status_callback_urls": ["https://processor.example/opendsr/callbacks"],
    }
    r = client.post("/api/v1/opendsr/requests", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["request_status"] == "pending" and r.json()["controller_id"] == "lytagra-lv"
    assert client.post("/api/v1/opendsr/requests", json=body, headers=headers).status_code == 409
    bad = client.post(
        "/api/v1/opendsr/requests", json={**body, "subject_request_type": "sell"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "subject_request_type"
    status = client.get(f"/api/v1/opendsr/requests/{body['subject_request_id']}", headers=headers)
    assert status.json()["request_status"] == "pending"
    cancelled = client.delete(f"/api/v1/opendsr/requests/{body['subject_request_id']}", headers=headers)
    assert (
        cancelled.status_code == 202 and cancelled.json()["subject_request_id"] == body["subject_request_id"]
    )
    assert (
        client.delete(f"/api/v1/opendsr/requests/{body['subject_request_id']}", headers=headers).status_code
        == 409
    )

    seen: list[httpx.Request] = []
    answers = iter([500, 200, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers))

    poster = HttpCallbackPoster(
        transport=httpx.MockTransport(handler), resolver=lambda host: ["93.184.216.34"]
    )
    key = b"callback-key"
    signer = HmacSigner(
        key
    )  # the shared key (SARGS_OPENDSR_CALLBACK_SECRET); test_opendsr_conformance: X.509
    first = deliver_callbacks(
        sessions=container.sessions, poster=poster, signer=signer, now=container.clock.now
    )
    assert (first.sent, first.retried) == (1, 1)
    container.clock.advance(minutes=10)  # type: ignore[attr-defined]
    second = deliver_callbacks(
        sessions=container.sessions, poster=poster, signer=signer, now=container.clock.now
    )
    assert (second.sent, second.retried) == (1, 0)
    for request in seen:
        expected = "sha256=" + hmac.new(key, request.content, hashlib.sha256).hexdigest()
        assert request.headers[SIGNATURE_HEADER] == expected
    statuses = sorted(json.loads(r.content)["request_status"] for r in seen[1:])
    assert statuses == ["cancelled", "pending"]
    with container.sessions.begin() as session:
        assert {c.status for c in session.scalars(select(DsrCallback))} == {"sent"}


def test_opendsr_refuses_callbacks_to_internal_addresses_and_writes_nothing(
    client: TestClient, auth: Auth
) -> None:
    headers = auth("operator", ["lytagra-lv"])
    body = {
        "regulation": "gdpr",
        "subject_request_id": "0b8f1c2e-8d1e-4f3a-9c1b-2a3b4c5d6e7f",
        "subject_request_type": "access",
        "submitted_time": "2026-11-20T09:00:00Z",
        "subject_identities": [{"identity_type": "email", "identity_value": "mara@example.lv"}],
        "status_callback_urls": ["https://processor.example/cb", "https://169.254.169.254/latest/meta-data"],
    }
    r = client.post("/api/v1/opendsr/requests", json=body, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "status_callback_urls.1"
    assert "private" in r.json()["error"]["message"]
    assert (
        client.get(
            "/api/v1/opendsr/requests/0b8f1c2e-8d1e-4f3a-9c1b-2a3b4c5d6e7f", headers=headers
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "resolved", [["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"], ["93.184.216.34", "::1"], []]
)
def test_a_callback_host_resolving_to_an_inside_address_is_never_posted_to(resolved: list[str]) -> None:
    seen: list[httpx.Request] = []
    poster = HttpCallbackPoster(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)),
        resolver=lambda host: resolved,
    )
    with pytest.raises(RefusedDestination):
        poster.post("https://169.254.169.254.nip.io/cb", b"{}", {})
    assert seen == []
