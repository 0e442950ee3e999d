"""Staff and tokens of one controller never see another controller's people or events (R-POL-2)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.entrypoints.container import Container
from tests.web_helpers import console_login

Auth = Callable[..., dict[str, str]]
LMT_ONLY = "+37129000401"
BOTH = "+37129000402"


def seed(client: TestClient, auth: Auth) -> None:
    admin = auth("admin")
    for phone, controller, purpose in (
        (LMT_ONLY, "lmt", "offers"),
        (BOTH, "lmt", "offers"),
        (BOTH, "lytagra-lv", "direct-marketing"),
    ):
        r = client.post(
            "/api/v1/consents",
            json={
                "controller": controller,
                "identity": f"msisdn:{phone}",
                "purpose": purpose,
                "action": "grant",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text


def test_a_person_known_only_to_another_controller_is_not_found(client: TestClient, auth: Auth) -> None:
    seed(client, auth)
    retailer = auth("operator", ["lytagra-lv"])
    r = client.get(f"/api/v1/subjects/msisdn:{LMT_ONLY}/consents", headers=retailer)
    assert r.status_code == 404
    r = client.get(
        "/api/v1/consents/check",
        params={"controller": "lmt", "identity": f"msisdn:{LMT_ONLY}", "purpose": "offers"},
        headers=retailer,
    )
    assert r.status_code == 403


def test_a_shared_person_shows_only_the_callers_controllers_events(client: TestClient, auth: Auth) -> None:
    seed(client, auth)
    r = client.get(f"/api/v1/subjects/msisdn:{BOTH}/consents", headers=auth("operator", ["lytagra-lv"]))
    body = r.json()
    assert {e["controller"] for e in body["history"]} == {"lytagra-lv"}
    assert {s["controller"] for s in body["current"]} == {"lytagra-lv"}
    lmt_event = client.get(
        f"/api/v1/subjects/msisdn:{BOTH}/consents", headers=auth("operator", ["lmt"])
    ).json()["history"][0]["id"]
    r = client.get(f"/api/v1/consents/{lmt_event}/receipt", headers=auth("operator", ["lytagra-lv"]))
    assert r.status_code == 403


def test_writing_for_another_controller_is_refused(client: TestClient, auth: Auth) -> None:
    r = client.post(
        "/api/v1/consents",
        json={"controller": "lmt", "identity": f"msisdn:{LMT_ONLY}", "purpose": "offers", "action": "grant"},
        headers=auth("operator", ["lytagra-lv"]),
    )
    assert r.status_code == 403


def test_console_staff_of_one_controller_cannot_find_or_open_anothers_person(
    client: TestClient, auth: Auth, container: Container, staff_member: Callable[..., tuple[str, str]]
) -> None:
    seed(client, auth)
    sid = client.get(f"/api/v1/subjects/msisdn:{LMT_ONLY}/consents", headers=auth("operator")).json()[
        "subject_id"
    ]
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", ["lytagra-lv"]))
        r = browser.get("/console/find", params={"kind": "msisdn", "value": LMT_ONLY}, follow_redirects=False)
        assert r.status_code == 404
        assert browser.get(f"/console/subjects/{sid}").status_code == 404
        shared = browser.get("/console/find", params={"kind": "msisdn", "value": BOTH})
        assert shared.status_code == 200
        assert "lytagra-lv" in shared.text and "Ofert" not in shared.text


def test_a_scoped_dpo_cannot_create_staff_for_another_controller(client: TestClient, auth: Auth) -> None:
    r = client.post(
        "/api/v1/staff",
        json={
            "email": "x@staff.example",
            "name": "X",
            "role": "operator",
            "password": "long enough password",
            "controllers": ["lmt"],
        },
        headers=auth("dpo", ["lytagra-lv"]),
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/staff",
        json={"email": "y@staff.example", "name": "Y", "role": "admin", "password": "long enough password"},
        headers=auth("dpo"),
    )
    assert r.status_code == 403
