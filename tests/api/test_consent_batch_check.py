"""The batch consent check (POST /api/v1/consents/checks) through real HTTP to the ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.domains.audit.model import AccessLogEntry
from sargs.entrypoints.container import Container
from tests.conftest import NOW

Auth = Callable[..., dict[str, str]]
URL = "/api/v1/consents/checks"


def write(
    client: TestClient, headers: dict[str, str], identity: str, purpose: str, action: str, **kw: object
):  # type: ignore[no-untyped-def]
    body = {"controller": "lmt", "identity": identity, "purpose": purpose, "action": action, **kw}
    r = client.post("/api/v1/consents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def audit_rows(container: Container) -> list[AccessLogEntry]:
    with container.read_sessions.begin() as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.route == f"POST {URL}")))


def single(client: TestClient, headers: dict[str, str], identity: str, purpose: str) -> dict:
    r = client.get(
        "/api/v1/consents/check",
        params={"controller": "lmt", "identity": identity, "purpose": purpose},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_answers_each_pair_in_order_as_the_single_check_does(
    client: TestClient, auth: Auth, container: Container
) -> None:
    op = auth("operator")
    a = write(client, op, "msisdn:+37129000001", "offers", "grant")
    write(
        client,
        op,
        "msisdn:+37129000002",
        "offers",
        "grant",
        occurred_at=(NOW - timedelta(days=2)).isoformat(),
    )
    write(
        client,
        op,
        "msisdn:+37129000002",
        "offers",
        "withdraw",
        occurred_at=(NOW - timedelta(days=1)).isoformat(),
    )
    write(client, op, "msisdn:+37129000002", "email-tracking", "grant")
    items = [
        {"identity": "msisdn:+37129000001", "purpose": "offers"},
        {"identity": "msisdn:29000002", "purpose": "offers"},  # national form, normalised
        {"identity": "msisdn:+37129000002", "purpose": "email-tracking"},
        {"identity": "msisdn:+37129000001", "purpose": "email-tracking"},  # known person, no decision
        {"identity": "msisdn:+37129999999", "purpose": "offers"},  # nobody
        {"identity": "email:nobody@example.lv", "purpose": "offers"},
        {"identity": "msisdn:+37129000001", "purpose": "offers"},  # asked twice
    ]
    marketing = auth("marketing")
    r = client.post(URL, json={"controller": "lmt", "items": items}, headers=marketing)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["allowed"], x["status"]) for x in results] == [
        (True, "granted"),
        (False, "withdrawn"),
        (True, "granted"),
        (False, "none"),
        (False, "none"),
        (False, "none"),
        (True, "granted"),
    ]
    assert results[0]["event_id"] == a["event"]["id"]
    for item, answer in zip(items, results, strict=True):
        assert answer == single(client, marketing, item["identity"], item["purpose"])

    rows = audit_rows(container)  # one entry per pair, like the single check
    assert len(rows) == len(items)
    assert [r.outcome for r in rows] == ["ok", "ok", "ok", "ok", "not_found", "not_found", "ok"]
    assert {r.controller for r in rows} == {"lmt"} and {r.role for r in rows} == {"marketing"}
    assert rows[0].subject_id == a["event"]["subject_id"] and rows[4].subject_id is None
    assert all(r.action == "read" for r in rows)


def test_a_thousand_pairs_are_answered_and_one_more_is_refused(
    client: TestClient, auth: Auth, container: Container
) -> None:
    h = auth("marketing")
    items = [{"identity": f"msisdn:+3712{9000000 + i}", "purpose": "offers"} for i in range(1000)]
    r = client.post(URL, json={"controller": "lmt", "items": items}, headers=h)
    assert r.status_code == 200 and len(r.json()["results"]) == 1000
    assert len(audit_rows(container)) == 1000
    r = client.post(URL, json={"controller": "lmt", "items": [*items, items[0]]}, headers=h)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "items" and "1000" in error["message"]
    assert len(audit_rows(container)) == 1000  # nothing logged for a refused call


def test_bad_items_are_422_naming_the_item_and_nothing_is_logged(
    client: TestClient, auth: Auth, container: Container
) -> None:
    h = auth("marketing")
    good = {"identity": "msisdn:+37129000001", "purpose": "offers"}
    cases = [
        ([good, {"identity": "msisdn:12", "purpose": "offers"}], "items.1.identity", "phone number"),
        (
            [good, good, {"identity": "29123456", "purpose": "offers"}],
            "items.2.identity",
            "identity must look like",
        ),
        (
            [good, {"identity": "msisdn:+37129000001", "purpose": "nope"}],
            "items.1.purpose",
            "no purpose 'nope'",
        ),
        ([{"identity": "msisdn:+37129000001"}], "items.0.purpose", "required"),
        ([], "items", "at least 1"),
    ]
    for items, field, message in cases:
        r = client.post(URL, json={"controller": "lmt", "items": items}, headers=h)
        assert r.status_code == 422, (items, r.text)
        error = r.json()["error"]
        assert error["field"] == field and field in error["message"] and message in error["message"], error
    r = client.post(URL, json={"controller": "acme", "items": [good]}, headers=h)
    assert r.status_code == 422 and "acme" in r.json()["error"]["message"]
    assert audit_rows(container) == []


def test_roles_and_controller_scope_are_those_of_the_single_check(
    client: TestClient, auth: Auth, container: Container
) -> None:
    body = {"controller": "lmt", "items": [{"identity": "msisdn:+37129000001", "purpose": "offers"}]}
    assert client.post(URL, json=body).status_code == 401
    for role in ("marketing", "operator", "admin"):
        assert client.post(URL, json=body, headers=auth(role)).status_code == 200, role
    assert client.post(URL, json=body, headers=auth("marketing", ["lytagra"])).status_code == 403
    with container.read_sessions.begin() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.route == f"POST {URL}")
            )
            == 3
        )


def test_openapi_documents_the_batch_check(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"][URL]["post"]
    assert "1,000" in op["description"]
    schema = doc["components"]["schemas"]["BatchCheck"]["properties"]["items"]
    assert schema["maxItems"] == 1000 and schema["minItems"] == 1


def test_each_consent_write_leaves_exactly_one_access_row_new_replayed_or_refused(
    client: TestClient, auth: Auth, container: Container
) -> None:
    """The write's row goes with the event (one statement on PostgreSQL); a replay or a refusal,
    which write no event, still log one row each."""
    op = auth("operator")
    body = {"controller": "lmt", "identity": "msisdn:+37129000009", "purpose": "offers", "action": "grant"}
    assert (
        client.post("/api/v1/consents", json={**body, "idempotency_key": "k1"}, headers=op).status_code == 201
    )
    assert (
        client.post("/api/v1/consents", json={**body, "idempotency_key": "k1"}, headers=op).status_code == 200
    )
    refused = client.post("/api/v1/consents", json={**body, "purpose": "metadata"}, headers=op)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_eligible"
    with container.read_sessions.begin() as s:
        rows = list(
            s.scalars(
                select(AccessLogEntry)
                .where(AccessLogEntry.route == "POST /api/v1/consents")
                .order_by(AccessLogEntry.id)
            )
        )
    assert [(r.action, r.outcome, r.controller) for r in rows] == [
        ("change", "ok", "lmt"),
        ("change", "ok", "lmt"),
        ("change", "rejected", "lmt"),
    ]
    assert len({r.subject_id for r in rows}) == 1 and rows[0].subject_id is not None


def test_a_single_check_logs_one_row_for_a_known_and_an_unknown_person(
    client: TestClient, auth: Auth, container: Container
) -> None:
    write(client, auth("operator"), "msisdn:+37129000001", "offers", "grant")
    h = auth("marketing")
    single(client, h, "msisdn:+37129000001", "offers")
    single(client, h, "msisdn:+37129999999", "offers")
    with container.read_sessions.begin() as s:
        rows = list(
            s.scalars(
                select(AccessLogEntry)
                .where(AccessLogEntry.route == "GET /api/v1/consents/check")
                .order_by(AccessLogEntry.id)
            )
        )
    assert [(r.outcome, r.subject_id is not None, r.role) for r in rows] == [
        ("ok", True, "marketing"),
        ("not_found", False, "marketing"),
    ]
