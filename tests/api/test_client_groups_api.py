"""PUT /api/v1/subjects/{identity}/groups and POST /api/v1/subjects/groups:batch (issue 19): people
created or moved, identities attached, own-clients-only consents lapsing, the access log, and clear
4xx answers that write nothing."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectIdentity
from sargs.domains.subjects.service import create_subject, find_subject_id, view_subject
from sargs.entrypoints.container import Container

Auth = Callable[..., dict[str, str]]
PHONE = "+37129300001"


def counts(container: Container) -> tuple[int, int, int]:
    with container.sessions.begin() as s:
        return (
            s.scalar(select(func.count()).select_from(Subject)) or 0,
            s.scalar(select(func.count()).select_from(SubjectIdentity)) or 0,
            s.scalar(select(func.count()).select_from(ConsentEvent)) or 0,
        )


def audit_rows(container: Container) -> list[tuple[str, str | None, str | None, str]]:
    with container.sessions.begin() as s:
        return [
            (r.action, r.subject_id, r.controller, r.outcome)
            for r in s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id))
            if "groups" in r.route
        ]


def test_put_creates_the_person_with_their_identities_and_logs_the_change(
    client: TestClient, auth: Auth, container: Container
) -> None:
    headers = auth("operator", ["lmt"])
    r = client.put(
        f"/api/v1/subjects/msisdn:{PHONE}/groups",
        json={"groups": {"lmt": "own"}, "identities": ["customer:LMT-77", "email:A@Example.LV"]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["groups"] == {"lmt": "own"} and body["created"] is True and body["changed"] is True
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity("email", "a@example.lv"))
        assert sid == body["subject_id"]
        assert find_subject_id(session=s, identity=Identity("customer", "LMT-77")) == sid
    assert audit_rows(container) == [("change", body["subject_id"], "lmt", "ok")]

    # The same request again changes nothing, and says so (still logged: it named a person).
    again = client.put(
        "/api/v1/subjects/msisdn:29300001/groups", json={"groups": {"lmt": "own"}}, headers=headers
    )
    assert again.status_code == 200 and again.json()["changed"] is False
    assert audit_rows(container)[-1] == ("change", body["subject_id"], "lmt", "unchanged")


def test_moving_a_client_out_lapses_only_the_consents_their_new_group_may_not_give(
    client: TestClient, auth: Auth, container: Container
) -> None:
    admin = auth("admin")
    assert client.put(
        f"/api/v1/subjects/msisdn:{PHONE}/groups", json={"groups": {"lmt": "own"}}, headers=admin
    )
    for purpose in ("metadata", "offers"):
        r = client.post(
            "/api/v1/consents",
            json={"controller": "lmt", "identity": f"msisdn:{PHONE}", "purpose": purpose, "action": "grant"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    r = client.put(
        f"/api/v1/subjects/msisdn:{PHONE}/groups", json={"groups": {"lmt": "other_operator"}}, headers=admin
    )
    assert r.status_code == 200 and r.json()["consents_lapsed"] == 1, r.text
    state = client.get(
        f"/api/v1/subjects/msisdn:{PHONE}/consents", headers={**admin, "X-Access-Reason": "test case 19"}
    ).json()
    status = {s["purpose"]: s["status"] for s in state["current"]}
    assert status == {"metadata": "withdrawn", "offers": "granted"}  # JAUNUMI is open to everyone
    lapse = state["history"][-1]
    assert lapse["evidence"] == {"lapsed": "client_group", "from": "own", "to": "other_operator", "by": "api"}
    # Back to own: the consent does not come back by itself.
    client.put(f"/api/v1/subjects/msisdn:{PHONE}/groups", json={"groups": {"lmt": "own"}}, headers=admin)
    state = client.get(
        f"/api/v1/subjects/msisdn:{PHONE}/consents", headers={**admin, "X-Access-Reason": "test case 19"}
    ).json()
    assert {s["purpose"]: s["status"] for s in state["current"]}["metadata"] == "withdrawn"
    with container.sessions.begin() as s:
        assert verify_ledger(session=s).ok


def test_bad_requests_are_clear_4xx_and_write_nothing(
    client: TestClient, auth: Auth, container: Container
) -> None:
    admin = auth("admin")
    before = counts(container)
    cases = [
        (
            f"/api/v1/subjects/msisdn:{PHONE}/groups",
            {"groups": {"lmt": "gold"}},
            422,
            "unknown client group 'gold'",
        ),
        (f"/api/v1/subjects/msisdn:{PHONE}/groups", {"groups": {"nobody": "own"}}, 422, "unknown controller"),
        ("/api/v1/subjects/msisdn:12/groups", {"groups": {"lmt": "own"}}, 422, "phone number"),
        ("/api/v1/subjects/fax:1234/groups", {"groups": {"lmt": "own"}}, 422, "unknown identity type"),
        (f"/api/v1/subjects/msisdn:{PHONE}/groups", {"groups": {}}, 422, ""),
    ]
    for path, body, status, message in cases:
        r = client.put(path, json=body, headers=admin)
        assert r.status_code == status, (path, body, r.text)
        assert message in r.json()["error"]["message"], r.text
    assert counts(container) == before
    # A token scoped to the retailer may not touch LMT's groups.
    r = client.put(
        f"/api/v1/subjects/msisdn:{PHONE}/groups",
        json={"groups": {"lmt": "own"}},
        headers=auth("operator", ["lytagra-lv"]),
    )
    assert r.status_code == 403
    # Identities of two different people: 409, nothing written.
    with container.sessions.begin() as s:
        for phone in ("+37129300002", "+37129300003"):
            create_subject(session=s, identities=[Identity("msisdn", phone)], now=container.clock.now())
    r = client.put(
        "/api/v1/subjects/msisdn:+37129300002/groups",
        json={"groups": {"lmt": "own"}, "identities": ["msisdn:+37129300003"]},
        headers=admin,
    )
    assert r.status_code == 422  # one msisdn per person
    r = client.put(
        "/api/v1/subjects/msisdn:+37129300002/groups",
        json={"groups": {"lmt": "own"}, "identities": ["email:x@example.lv"]},
        headers=admin,
    )
    assert r.status_code == 200
    before = counts(container)
    r = client.put(
        "/api/v1/subjects/msisdn:+37129300003/groups",
        json={"groups": {"lmt": "own"}, "identities": ["email:x@example.lv"]},
        headers=admin,
    )
    assert r.status_code == 409 and r.json()["error"]["problems"][0]["index"] == 0, r.text
    assert "different people" in r.json()["error"]["problems"][0]["message"]
    assert counts(container) == before
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity("msisdn", "+37129300003"))
        assert sid is not None and view_subject(session=s, subject_id=sid).groups == {}


def test_a_batch_lands_whole_or_names_every_bad_item(
    client: TestClient, auth: Auth, container: Container
) -> None:
    admin = auth("admin")
    items = [
        {"identities": [f"msisdn:+3712940000{i}", f"customer:LMT-{i}"], "groups": {"lmt": "own"}}
        for i in range(5)
    ]
    bad = [
        *items,
        {"identities": ["msisdn:nope"], "groups": {"lmt": "own"}},
        {"identities": ["email:a@b.lv"], "groups": {"lmt": "x"}},
    ]
    before = counts(container)
    r = client.post("/api/v1/subjects/groups:batch", json={"items": bad}, headers=admin)
    assert r.status_code == 422, r.text
    assert [p["index"] for p in r.json()["error"]["problems"]] == [5, 6]
    assert counts(container) == before

    r = client.post("/api/v1/subjects/groups:batch", json={"items": items, "dry_run": True}, headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 5 and r.json()["dry_run"] is True
    assert counts(container) == before

    r = client.post("/api/v1/subjects/groups:batch", json={"items": items}, headers=admin)
    assert r.status_code == 200 and r.json()["created"] == 5, r.text
    assert len([a for a in audit_rows(container) if a[0] == "change"]) == 5
    r = client.post("/api/v1/subjects/groups:batch", json={"items": items}, headers=admin)
    assert r.json()["created"] == 0 and r.json()["unchanged"] == 5

    too_many = {"items": [items[0]] * 1001}
    assert client.post("/api/v1/subjects/groups:batch", json=too_many, headers=admin).status_code == 422
