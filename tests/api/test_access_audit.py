"""Every read or change of a person's data is logged, with the stated reason where the role
needs one; the log is append-only and the DPO can query it (R-ACC-1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sargs.domains.audit.service import accesses_to_subject
from sargs.entrypoints.container import Container

PHONE = "+37129000002"
Auth = Callable[..., dict[str, str]]


def grant(client: TestClient, headers: dict[str, str], phone: str = PHONE, controller: str = "lmt") -> dict:
    purpose = "offers" if controller == "lmt" else "direct-marketing"
    r = client.post(
        "/api/v1/consents",
        json={"controller": controller, "identity": f"msisdn:{phone}", "purpose": purpose, "action": "grant"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["event"]


def log_of(client: TestClient, auth: Auth, **params: str) -> list[dict]:
    r = client.get("/api/v1/audit", params=params, headers=auth("dpo"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_each_person_route_leaves_one_entry_naming_actor_subject_route_and_reason(
    client: TestClient, auth: Auth, container: Container
) -> None:
    operator = auth("operator", ["lmt"])
    event = grant(client, operator)
    sid = event["subject_id"]
    client.get("/api/v1/subjects/msisdn:" + PHONE + "/consents", headers=operator)
    client.get(
        "/api/v1/consents/check",
        params={"controller": "lmt", "identity": f"msisdn:{PHONE}", "purpose": "offers"},
        headers=auth("marketing"),
    )
    client.get(
        f"/api/v1/consents/{event['id']}/receipt", headers={**auth("auditor"), "X-Access-Reason": "case 42"}
    )
    items = log_of(client, auth, subject=f"msisdn:{PHONE}")
    routes = [(i["route"], i["action"], i["role"], i["reason"]) for i in reversed(items)]
    assert routes[:4] == [
        ("POST /api/v1/consents", "change", "operator", None),
        ("GET /api/v1/subjects/{identity}/consents", "read", "operator", None),
        ("GET /api/v1/consents/check", "read", "marketing", None),
        ("GET /api/v1/consents/{event_id}/receipt", "read", "auditor", "case 42"),
    ]
    assert all(
        i["subject_id"] == sid and i["controller"] == "lmt"
        for i in items
        if i["route"] != "GET /api/v1/audit"
    )
    with container.read_sessions.begin() as s:
        assert len(accesses_to_subject(session=s, subject_id=sid)) >= 4


@pytest.mark.parametrize("role", ["dpo", "auditor", "admin"])
def test_roles_that_must_state_a_reason_are_refused_without_one(
    role: str, client: TestClient, auth: Auth
) -> None:
    event = grant(client, auth("operator"))
    headers = auth(role)
    r = client.get(f"/api/v1/subjects/msisdn:{PHONE}/consents", headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "reason_required"
    r = client.get(f"/api/v1/consents/{event['id']}/receipt", headers=headers)
    assert r.status_code == 403
    r = client.get(
        f"/api/v1/subjects/msisdn:{PHONE}/consents",
        headers={**headers, "X-Access-Reason": "complaint 2026/17"},
    )
    assert r.status_code == 200
    reasons = [i["reason"] for i in log_of(client, auth, subject=f"msisdn:{PHONE}") if i["role"] == role]
    assert "complaint 2026/17" in reasons


def test_lookups_of_unknown_people_are_logged_too(client: TestClient, auth: Auth) -> None:
    r = client.get("/api/v1/subjects/msisdn:+37129999999/consents", headers=auth("operator"))
    assert r.status_code == 404
    items = log_of(client, auth)
    assert any(i["outcome"] == "not_found" and i["route"].startswith("GET /api/v1/subjects") for i in items)


def test_an_audience_export_is_one_entry_not_one_per_person(client: TestClient, auth: Auth) -> None:
    for n in range(3):
        grant(client, auth("operator"), phone=f"+3712900010{n}")
    r = client.get("/api/v1/audiences/offers", params={"controller": "lmt"}, headers=auth("marketing"))
    assert r.status_code == 200 and r.text.count("\n") == 4
    exports = [i for i in log_of(client, auth) if i["action"] == "export"]
    assert len(exports) == 1 and exports[0]["subject_id"] is None and exports[0]["controller"] == "lmt"


def test_audit_log_filters_by_actor_and_time_and_pages(
    client: TestClient, auth: Auth, container: Container
) -> None:
    operator = auth("operator")
    for n in range(5):
        grant(client, operator, phone=f"+3712900020{n}")
    all_items = log_of(client, auth)
    actor = next(i["actor_id"] for i in all_items if i["role"] == "operator")
    mine = log_of(client, auth, actor=actor)
    assert len(mine) == 5 and {i["actor_id"] for i in mine} == {actor}
    first = client.get("/api/v1/audit", params={"actor": actor, "limit": 2}, headers=auth("dpo")).json()
    assert len(first["items"]) == 2 and first["next_before"]
    second = client.get(
        "/api/v1/audit",
        params={"actor": actor, "limit": 2, "before": first["next_before"]},
        headers=auth("dpo"),
    ).json()
    assert {i["id"] for i in second["items"]}.isdisjoint({i["id"] for i in first["items"]})
    later = container.clock.now().isoformat()
    assert log_of(client, auth, actor=actor, until=later) == []
    assert len(log_of(client, auth, actor=actor, since=later)) == 5


def test_a_scoped_dpo_sees_only_its_controllers_entries(client: TestClient, auth: Auth) -> None:
    grant(client, auth("operator"), controller="lmt")
    grant(client, auth("operator"), phone="+37129000301", controller="lytagra-lv")
    r = client.get("/api/v1/audit", headers=auth("dpo", ["lytagra-lv"]))
    controllers = {i["controller"] for i in r.json()["items"]}
    assert controllers == {"lytagra-lv"}


def test_access_log_rows_cannot_be_updated_or_deleted(
    client: TestClient, auth: Auth, container: Container
) -> None:
    grant(client, auth("operator"))
    for statement in ("UPDATE access_log SET reason = 'x'", "DELETE FROM access_log"):
        with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
            conn.execute(text(statement))
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM access_log")).scalar_one() >= 1
