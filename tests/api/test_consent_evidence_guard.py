"""Chained consent fields cannot be erased later, so the API keeps the person's identifiers out of them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

BODY = {"controller": "lmt", "identity": "msisdn:+37129100001", "purpose": "offers", "action": "grant"}


def test_evidence_naming_the_persons_number_is_refused_with_the_field(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    r = client.post(
        "/api/v1/consents", json=BODY | {"evidence": {"note": "zvanīja no 29 100 001"}}, headers=auth()
    )
    assert r.status_code == 422 and "evidence" in r.text


def test_an_idempotency_key_holding_the_number_is_refused(
    client: TestClient, auth: Callable[..., dict[str, str]]
) -> None:
    r = client.post("/api/v1/consents", json=BODY | {"idempotency_key": "37129100001-1"}, headers=auth())
    assert r.status_code == 422 and "idempotency_key" in r.text


def test_ordinary_evidence_is_recorded(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    r = client.post(
        "/api/v1/consents", json=BODY | {"evidence": {"form": "web-7", "n": 29307777}}, headers=auth()
    )
    assert r.status_code == 201
