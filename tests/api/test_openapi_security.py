"""The OpenAPI document declares the bearer token scheme on exactly the token-protected routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

PUBLIC = {
    ("get", "/api/v1/health"),
    ("post", "/api/v1/sms/inbound"),
    ("get", "/api/v1/web/cookie-categories"),
    ("get", "/api/v1/web/sargs-consent.js"),
    ("post", "/api/v1/web/cookie-consents"),
    ("post", "/api/v1/mail/events"),
    ("post", "/api/v1/mail/conversions"),
    ("get", "/api/v1/opendsr/discovery"),
    ("get", "/api/v1/opendsr/status"),
    ("get", "/api/v1/opendsr/processor-certificate.pem"),
}


def test_openapi_declares_the_bearer_scheme(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sargs_<id>_<secret>",
        "description": "An API token from `sargs token create`, sent as `Authorization: Bearer <token>`.",
    }


def test_token_protected_operations_reference_the_scheme_and_public_ones_do_not(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operations = {(m, p): op for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert operations.keys() >= PUBLIC
    assert not any(p.startswith(("/portal", "/console")) for _, p in operations)
    for key, op in operations.items():
        expected = None if key in PUBLIC else [{"bearer": []}]
        assert op.get("security") == expected, key
    assert len(operations) - len(PUBLIC) > 30


def test_a_request_without_a_token_is_told_how_to_send_one(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = client.get("/api/v1/audit", headers=headers)
        assert r.status_code == 401
        assert "Authorization: Bearer <token>" in r.json()["error"]["message"]
