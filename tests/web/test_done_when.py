"""The issue's acceptance scenario, end to end through the API and the web pages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web import scenario


def test_dpo_operator_and_subject_flow_is_complete_and_audited(
    container: Container,
    client: TestClient,
    codes: FakeCodeSender,
    token: Callable[..., str],
    staff_member: Callable[..., tuple[str, str]],
) -> None:
    out = scenario.run(container, codes, token, staff_member)
    headers = {"Authorization": f"Bearer {token('admin')}", "X-Access-Reason": "acceptance test"}
    body = client.get(f"/api/v1/subjects/msisdn:{scenario.PHONE}/consents", headers=headers).json()
    offers = [e for e in body["history"] if e["purpose"] == "offers"]
    assert [(e["action"], e["channel"], e["actor_type"]) for e in offers] == [
        ("grant", "staff", "staff"),
        ("withdraw", "portal", "subject"),
    ]
    assert offers[1]["actor_id"] == out.subject_id
    assert next(s for s in body["current"] if s["purpose"] == "offers")["status"] == "withdrawn"

    by_actor = {(i["actor_kind"], i["route"], i["action"]) for i in out.audit}
    assert ("staff", "GET /console/subjects/{subject_id}", "read") in by_actor
    assert ("staff", "POST /console/subjects/{subject_id}/consents", "change") in by_actor
    assert ("subject", "POST /portal/consents", "change") in by_actor
    assert ("subject", "POST /portal/verify", "signin") in by_actor
    operator_rows = [i for i in out.audit if i["actor_id"] == out.operator_id]
    assert operator_rows and all(i["role"] == "operator" and i["controller"] == "lmt" for i in operator_rows)

    # Every other role is refused where it should be (the full matrix is in tests/api).
    for role in ("marketing", "operator"):
        r = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token(role)}"})
        assert r.status_code == 403
