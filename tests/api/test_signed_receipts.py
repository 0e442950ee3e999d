"""Signed consent receipts: Sargs signs with joserfc; here every receipt is checked with a different
JOSE library (jwcrypto), offline, from nothing but the JWK set Sargs publishes — as an auditor
would. Tampering, another company's key and a missing key are covered too."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from jwcrypto import jwk as jose_jwk
from jwcrypto import jws as jose_jws
from jwcrypto.common import JWException
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, main
from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError
from sargs.domains.policy.schema import Policy
from sargs.entrypoints.cli.receipts import make_receipts_cli
from tests.api.test_consents_api import grant

Auth = Callable[..., dict[str, str]]


def receipts_cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(make_receipts_cli(), name="receipts")
    return root


def verify(token: str, jwks_json: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an auditor does with jwcrypto: pick the key by kid from the JWK set, check the ES256
    signature, read the payload. Raises when anything does not match."""
    keys = jose_jwk.JWKSet.from_json(jwks_json)
    signed = jose_jws.JWS()
    signed.deserialize(token)
    header = signed.jose_header
    key = keys.get_key(header["kid"])
    if key is None:
        raise LookupError(f"no published key {header['kid']}")
    signed.allowed_algs = ["ES256"]
    signed.verify(key, alg="ES256")
    return header, json.loads(signed.payload)


def test_a_receipt_verifies_offline_with_another_jose_library_from_the_published_keys(
    client: TestClient, auth: Auth
) -> None:
    h = auth("operator")
    event_id = grant(client, h).json()["event"]["id"]
    plain = client.get(f"/api/v1/consents/{event_id}/receipt?lang=en", headers=h).json()
    r = client.get(f"/api/v1/consents/{event_id}/receipt?lang=en&format=jwt&download=true", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/jwt"
    assert r.headers["content-disposition"] == f'attachment; filename="consent-receipt-{event_id}.jwt"'
    token = r.text
    published = client.get("/.well-known/jwks.json")  # no token: public
    assert published.status_code == 200 and "max-age" in published.headers["cache-control"]
    assert all("d" not in k for k in published.json()["keys"])  # public halves only

    header, payload = verify(token, published.text)
    assert header["typ"] == "JWT" and header["kid"].startswith("lmt.")
    assert payload == plain  # the signed receipt is exactly the JSON receipt
    assert payload["dpv:hasRecordOfActivity"]["dpv:hasDataController"]["dct:identifier"] == "lmt"


def test_a_changed_receipt_or_another_companys_key_does_not_verify(client: TestClient, auth: Auth) -> None:
    h = auth("admin")
    token = client.get(
        f"/api/v1/consents/{grant(client, h).json()['event']['id']}/receipt?format=jwt",
        headers={**h, "X-Access-Reason": "audit"},
    ).text
    published = client.get("/.well-known/jwks.json").text
    head, body, sig = token.split(".")
    receipt = json.loads(jose_jws.base64url_decode(body))
    receipt["dpv:hasRecordOfActivity"]["sargs:event"]["sargs:action"] = "withdraw"  # an insider rewrites it
    forged = ".".join([head, jose_jws.base64url_encode(json.dumps(receipt).encode()), sig])
    with pytest.raises(JWException):
        verify(forged, published)
    # Signed by lmt: the Lytagra key does not verify it, even under lmt's kid.
    keys = json.loads(published)["keys"]
    lytagra = next(k for k in keys if k["kid"].startswith("lytagra-lv."))
    lmt_kid = next(k["kid"] for k in keys if k["kid"].startswith("lmt."))
    impostor = json.dumps({"keys": [{**lytagra, "kid": lmt_kid}]})
    with pytest.raises(JWException):
        verify(token, impostor)


@pytest.fixture
def key_file(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A key file made by `sargs receipts key` for lmt, and the public JWK it printed."""
    path = tmp_path / "receipt-keys.json"
    result = CliRunner().invoke(
        receipts_cli(), ["receipts", "key", "--controller", "lmt", "--out", str(path)]
    )
    assert result.exit_code == 0, result.output
    public = json.loads(result.stdout)
    assert "d" not in public and public["alg"] == "ES256"
    assert path.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only
    yield path, public


def test_configured_keys_sign_the_controllers_receipts_and_unconfigured_ones_are_refused_signed(
    db_url: str,
    example_policies: list[Policy],
    key_file: tuple[Path, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, public = key_file
    retired = {**public, "kid": "lmt.retired-2025"}
    monkeypatch.setenv("SARGS_RECEIPT_KEYS_FILE", str(path))
    settings = Settings(database_url=db_url, receipt_retired_keys=json.dumps([retired]))  # type: ignore[arg-type]
    assert settings.demo is False
    container = build(settings, policies=example_policies)
    try:
        with caplog.at_level(logging.WARNING, logger="sargs.receipts"):
            app = create_app(container)
        assert "lytagra-lv" in caplog.text and "not signed" in caplog.text  # said at start-up
        from sargs.domains.tokens.service import create_token

        with container.sessions.begin() as session:
            secret = create_token(session=session, name="t", role="admin", now=container.clock.now()).secret
        h = {"Authorization": f"Bearer {secret}", "X-Access-Reason": "receipt check"}
        with TestClient(app) as client:
            published = client.get("/.well-known/jwks.json").json()
            assert published["keys"] == [public, retired]  # lytagra has no key, so none is published
            lmt = grant(client, h).json()["event"]["id"]
            token = client.get(f"/api/v1/consents/{lmt}/receipt?format=jwt", headers=h).text
            header, payload = verify(token, json.dumps(published))
            assert header["kid"] == public["kid"] and payload["consentReceiptID"] == lmt

            lytagra = grant(client, h, controller="lytagra-lv", purpose="direct-marketing").json()["event"][
                "id"
            ]
            assert client.get(f"/api/v1/consents/{lytagra}/receipt", headers=h).status_code == 200
            refused = client.get(f"/api/v1/consents/{lytagra}/receipt?format=jwt", headers=h)
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "receipts_unsigned"
            assert "SARGS_RECEIPT_KEYS" in refused.json()["error"]["message"]
    finally:
        container.close()


@pytest.mark.parametrize(
    "keys",
    [
        {"lmt": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "AAAA"}},  # not a P-256 key
        {"lmt": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},  # public only
        {"lmt": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "AAAA"}},  # not on the curve
    ],
)
def test_a_bad_signing_key_stops_start_up_with_a_clear_message(
    db_url: str, example_policies: list[Policy], keys: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError, match=r"SARGS_RECEIPT_KEYS\['lmt'\]"):
        build(Settings(database_url=db_url, receipt_keys=keys), policies=example_policies)


def test_a_new_key_for_the_same_controller_replaces_only_its_entry(
    key_file: tuple[Path, dict[str, str]],
) -> None:
    path, first = key_file
    runner = CliRunner()
    assert (
        runner.invoke(
            receipts_cli(), ["receipts", "key", "--controller", "lytagra-lv", "--out", str(path)]
        ).exit_code
        == 0
    )
    again = runner.invoke(receipts_cli(), ["receipts", "key", "--controller", "lmt", "--out", str(path)])
    stored = json.loads(path.read_text())
    assert set(stored) == {"lmt", "lytagra-lv"}
    assert json.loads(again.stdout)["kid"] != first["kid"]
    assert stored["lmt"]["x"] == json.loads(again.stdout)["x"]


def test_the_receipts_command_is_wired_into_sargs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    monkeypatch.setattr("sys.argv", ["sargs", "receipts", "key", "--controller", "lmt", "--out", str(out)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None) and "lmt" in json.loads(out.read_text())
    assert example_policy_paths()  # the examples the other tests sign for


def test_the_auditors_script_in_the_docs_checks_a_real_receipt(
    client: TestClient, auth: Auth, tmp_path: Path
) -> None:
    import re
    import subprocess
    import sys

    doc = (Path(__file__).parents[2] / "docs" / "receipts.md").read_text(encoding="utf-8")
    script = re.search(r"```python\n(.*?)```", doc, re.S)
    assert script, "docs/receipts.md has no python example"
    (tmp_path / "check_receipt.py").write_text(script.group(1))
    h = auth("operator")
    event_id = grant(client, h).json()["event"]["id"]
    (tmp_path / "r.jwt").write_text(
        client.get(f"/api/v1/consents/{event_id}/receipt?format=jwt", headers=h).text
    )
    (tmp_path / "jwks.json").write_text(client.get("/.well-known/jwks.json").text)
    run = subprocess.run(
        [sys.executable, "check_receipt.py", "r.jwt", "jwks.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("valid signature by lmt.") and event_id in run.stdout
