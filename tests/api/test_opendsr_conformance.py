"""OpenDSR 1.0 conformance (issue 16 part 4): /discovery and /status, the required fields (a
lowercase UUID v4 subject_request_id, submitted_time, regulation) refused in the spec's error shape
with nothing written, DELETE answering 202, and callbacks and responses signed by the processor's
X.509 certificate (X-OpenDSR-Processor-Domain) as an option beside the shared HMAC key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.bootstrap import build, create_app
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError
from sargs.domains.dsr.callbacks import DOMAIN_HEADER, SIGNATURE_HEADER, deliver_callbacks
from sargs.domains.dsr.model import DsrEvent, DsrRequest
from sargs.domains.policy.schema import Policy
from sargs.domains.tokens.service import create_token
from sargs.entrypoints.container import Container
from sargs.integrations.esign import sample
from sargs.integrations.opendsr.http import HttpCallbackPoster
from sargs.integrations.opendsr.signing import verify

RID = "a7551968-d5d6-44b2-9831-815ac9017798"
CALLBACK = "https://controller.example/opendsr/callbacks"
BODY: dict[str, Any] = {
    "regulation": "gdpr",
    "subject_request_id": RID,
    "subject_request_type": "erasure",
    "submitted_time": "2026-11-22T09:00:00Z",
    "subject_identities": [
        {"identity_type": "email", "identity_value": "mara@example.lv", "identity_format": "raw"}
    ],
    "api_version": "1.0",
    "status_callback_urls": [CALLBACK],
}


def nothing_written(container: Container) -> bool:
    with container.sessions.begin() as session:
        return not session.scalar(select(func.count()).select_from(DsrRequest)) and not session.scalar(
            select(func.count()).select_from(DsrEvent)
        )


def test_discovery_and_status_answer_without_a_token(client: TestClient) -> None:
    found = client.get("/api/v1/opendsr/discovery")
    assert found.status_code == 200
    assert found.json() == {
        "api_version": "1.0",
        "supported_identities": [
            {"identity_type": t, "identity_format": "raw"}
            for t in ("email", "phone_number", "controller_customer_id")
        ],
        "supported_subject_request_types": ["access", "portability", "erasure"],
        "processor_certificate": None,  # no certificate configured: callbacks are HMAC-signed
    }
    assert client.get("/api/v1/opendsr/status").json() == {"api_version": "1.0", "status": "ok"}
    missing = client.get("/api/v1/opendsr/processor-certificate.pem")
    assert missing.status_code == 404 and "SARGS_OPENDSR_CERTIFICATE" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"regulation": None}, "regulation", "Field required"),
        ({"regulation": "ccpa"}, "regulation", "GDPR requests only"),
        ({"subject_request_id": "seed-1"}, "subject_request_id", "lowercase UUID v4"),
        ({"subject_request_id": RID.upper()}, "subject_request_id", "lowercase UUID v4"),
        ({"subject_request_id": "a7551968-d5d6-14b2-9831-815ac9017798"}, "subject_request_id", "UUID v4"),
        ({"submitted_time": None}, "submitted_time", "Field required"),
        ({"submitted_time": "yesterday"}, "submitted_time", "datetime"),
        ({"submitted_time": "2026-11-22T09:00:00"}, "submitted_time", "time zone"),
        ({"submitted_time": "2099-01-01T00:00:00Z"}, "submitted_time", "future"),
        ({"subject_request_type": "sell"}, "subject_request_type", "access, portability, erasure"),
    ],
)
def test_a_request_without_what_the_spec_requires_is_a_400_in_its_shape_and_writes_nothing(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    container: Container,
    patch: dict[str, Any],
    field: str,
    words: str,
) -> None:
    body = {k: v for k, v in {**BODY, **patch}.items() if v is not None}
    r = client.post("/api/v1/opendsr/requests", json=body, headers=auth("operator", ["lytagra-lv"]))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 400 and words in error["message"] and error["field"] == field
    assert error["errors"][0]["domain"] == "Validation" and error["errors"][0]["field"] == field
    assert r.headers["cache-control"] == "no-store"
    assert nothing_written(container)


def test_a_body_that_is_not_json_is_a_400_in_the_spec_shape(
    client: TestClient, auth: Callable[..., dict[str, str]], container: Container
) -> None:
    r = client.post(
        "/api/v1/opendsr/requests",
        content=b"\x05{not json",
        headers={**auth("operator", ["lytagra-lv"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == 400 and r.json()["error"]["errors"]
    assert nothing_written(container)


def test_delete_answers_202_and_a_second_one_is_a_409_in_the_spec_shape(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    headers = auth("operator", ["lytagra-lv"])
    made = client.post("/api/v1/opendsr/requests", json=BODY, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["subject_request_id"] == RID and made.json()["request_status"] == "pending"
    gone = client.delete(f"/api/v1/opendsr/requests/{RID}", headers=headers)
    assert gone.status_code == 202
    assert set(gone.json()) == {"controller_id", "subject_request_id", "received_time", "api_version"}
    assert gone.json()["controller_id"] == "lytagra-lv" and gone.json()["subject_request_id"] == RID
    assert (
        client.get(f"/api/v1/opendsr/requests/{RID}", headers=headers).json()["request_status"] == "cancelled"
    )
    again = client.delete(f"/api/v1/opendsr/requests/{RID}", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == 409
    unknown = client.get("/api/v1/opendsr/requests/0b8f1c2e-8d1e-4f3a-9c1b-2a3b4c5d6e7f", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == 404
    anonymous = client.get(f"/api/v1/opendsr/requests/{RID}")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"  # as on every route behind a token


# --- X.509-signed callbacks and responses -----------------------------------------------------------


def issue(ca: sample.Identity, domain: str, tmp: Path, *, self_signed: bool = False) -> tuple[Path, Path]:
    """An RSA key and a certificate for `domain` issued by `ca` (or by itself), as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key if self_signed else ca.key, hashes.SHA256())
    )
    key_path, cert_path = tmp / f"{domain}.key", tmp / f"{domain}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca.cert.public_bytes(serialization.Encoding.PEM)
    )
    return key_path, cert_path


@pytest.fixture
def signed(
    db_url: str, example_policies: list[Policy], clock: FixedClock, tmp_path: Path
) -> Iterator[Container]:
    key, cert = issue(sample.make_ca(), "sargs.lytagra.example", tmp_path)
    settings = Settings(database_url=db_url, demo=True, opendsr_signing_key=key, opendsr_certificate=cert)
    c = build(settings, clock=clock, policies=example_policies)
    yield c
    c.close()


def test_callbacks_and_responses_are_signed_by_the_processors_certificate(signed: Container) -> None:
    with signed.sessions.begin() as session:
        secret = create_token(
            session=session,
            name="controller",
            role="operator",
            now=signed.clock.now(),
            controllers=["lytagra-lv"],
        ).secret
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(signed)) as client:
        found = client.get("/api/v1/opendsr/discovery").json()
        assert found["processor_certificate"] == "http://testserver/api/v1/opendsr/processor-certificate.pem"
        pem = client.get("/api/v1/opendsr/processor-certificate.pem")
        assert pem.headers["content-type"].startswith("application/x-pem-file")
        certificate = x509.load_pem_x509_certificates(pem.content)[0]  # what a controller fetches
        made = client.post("/api/v1/opendsr/requests", json=BODY, headers=headers)
        assert made.status_code == 201, made.text
        for response in (made, client.get(f"/api/v1/opendsr/requests/{RID}", headers=headers)):
            assert response.headers[DOMAIN_HEADER] == "sargs.lytagra.example"
            assert verify(certificate, response.content, response.headers[SIGNATURE_HEADER])
            assert not verify(certificate, response.content + b" ", response.headers[SIGNATURE_HEADER])
        gone = client.delete(f"/api/v1/opendsr/requests/{RID}", headers=headers)
        assert gone.status_code == 202 and verify(certificate, gone.content, gone.headers[SIGNATURE_HEADER])

    received: list[httpx.Request] = []

    def controller(request: httpx.Request) -> httpx.Response:
        """The controller's callback endpoint, checking as spec 8.8 says: domain, signature, then body."""
        received.append(request)
        if request.headers.get(DOMAIN_HEADER) != "sargs.lytagra.example":
            return httpx.Response(403)
        if not verify(certificate, request.content, request.headers.get(SIGNATURE_HEADER, "")):
            return httpx.Response(403)
        return httpx.Response(200)

    poster = HttpCallbackPoster(
        transport=httpx.MockTransport(controller), resolver=lambda host: ["93.184.216.34"]
    )
    signer = signed.callback_signer()
    assert signer is signed.opendsr_signer
    report = deliver_callbacks(sessions=signed.sessions, poster=poster, signer=signer, now=signed.clock.now)
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)  # pending, then cancelled: all accepted
    bodies = [json.loads(r.content) for r in received]
    assert sorted(b["request_status"] for b in bodies) == ["cancelled", "pending"]
    assert {b["status_callback_url"] for b in bodies} == {CALLBACK} and {
        b["subject_request_id"] for b in bodies
    } == {RID}


@pytest.mark.parametrize("problem", ["self-signed", "someone else's key", "one of the two", "no such file"])
def test_a_processor_certificate_that_cannot_sign_stops_the_start(
    db_url: str, example_policies: list[Policy], tmp_path: Path, problem: str
) -> None:
    ca = sample.make_ca()
    key, cert = issue(ca, "sargs.lytagra.example", tmp_path, self_signed=problem == "self-signed")
    extra: dict[str, Any] = {"opendsr_signing_key": key, "opendsr_certificate": cert}
    if problem == "someone else's key":
        extra["opendsr_signing_key"] = issue(ca, "other.example", tmp_path)[0]
    elif problem == "one of the two":
        del extra["opendsr_certificate"]
    elif problem == "no such file":
        extra["opendsr_certificate"] = tmp_path / "nope.pem"
    expected = {
        "self-signed": "self-signed",
        "someone else's key": "not the certificate's",
        "one of the two": "set both",
        "no such file": "cannot read",
    }[problem]
    with pytest.raises(ConfigurationError, match=expected):
        build(Settings(database_url=db_url, demo=True, **extra), policies=example_policies)
