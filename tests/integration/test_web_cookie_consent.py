"""Cookie consent over the public API (R-WEB-1): categories, stored choices, GPC, CORS, limits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.domains.web.cookies import choices_of
from sargs.domains.web.model import CookieConsent
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web_helpers import portal_sign_in

VISITOR = "v" * 24
URL = "/api/v1/web/cookie-consents"


def choice(**over: Any) -> dict[str, Any]:
    return {"visitor_id": VISITOR, "controller": "lmt", "accepted": ["analytics"], **over}


def stored(container: Container) -> int:
    with container.read_sessions.begin() as s:
        return s.scalar(select(func.count()).select_from(CookieConsent)) or 0


def test_the_banner_gets_the_policy_categories_in_both_languages(client: TestClient) -> None:
    lv = client.get("/api/v1/web/cookie-categories", params={"controller": "lytagra-lv", "lang": "lv"}).json()
    en = client.get("/api/v1/web/cookie-categories", params={"controller": "lytagra-lv", "lang": "en"}).json()
    assert [c["id"] for c in lv["categories"]] == ["functional", "development", "analytics", "marketing"]
    assert lv["categories"][0]["title"] == "Funkcionālie sīkfaili un pakalpojumu sniegšana"
    assert en["categories"][3]["title"] == "Marketing targeting" and en["categories"][3]["marketing"]
    assert [c["required"] for c in en["categories"]] == [True, False, False, False]
    assert lv["text"]["accept_all"] == "Atļaut visas" and en["text"]["accept_all"] == "Allow all"


def test_a_choice_is_stored_with_required_categories_added_and_the_rest_refused(
    client: TestClient, container: Container
) -> None:
    r = client.post(URL, json=choice())
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["accepted"] == ["functional", "analytics"] and receipt["refused"] == ["marketing"]
    assert receipt["policy"] == {"id": "lmt-group", "version": "2021-01-12"} and len(receipt["digest"]) == 64
    with container.read_sessions.begin() as s:
        [row] = choices_of(session=s, visitor_id=VISITOR)
    assert (row.id, row.accepted, row.gpc, row.subject_id) == (
        receipt["receipt_id"],
        ["functional", "analytics"],
        False,
        None,
    )


def test_choices_are_appended_so_the_history_of_a_visitor_is_kept(
    client: TestClient, container: Container
) -> None:
    client.post(URL, json=choice(accepted=["analytics", "marketing"]))
    client.post(URL, json=choice(accepted=[]))
    with container.read_sessions.begin() as s:
        rows = choices_of(session=s, visitor_id=VISITOR, controller="lmt")
    assert [r.accepted for r in rows] == [["functional", "analytics", "marketing"], ["functional"]]


@pytest.mark.parametrize("signal", [{"headers": {"Sec-GPC": "1"}}, {"gpc": True}])
def test_global_privacy_control_refuses_marketing_whatever_was_ticked(
    client: TestClient, signal: dict[str, Any]
) -> None:
    headers = signal.get("headers", {})
    body = choice(accepted=["analytics", "marketing"], gpc=signal.get("gpc", False))
    receipt = client.post(URL, json=body, headers=headers).json()
    assert receipt["accepted"] == ["functional", "analytics"]
    assert receipt["refused"] == ["marketing"] and receipt["global_privacy_control"] is True


def test_the_banner_is_told_when_the_browser_sends_sec_gpc(client: TestClient) -> None:
    r = client.get("/api/v1/web/cookie-categories", params={"controller": "lmt"}, headers={"Sec-GPC": "1"})
    assert r.json()["gpc"] is True


def test_gpc_json_declares_support_dated_by_the_website_policy(client: TestClient) -> None:
    # Sargs' own origin hosts every website's banner: the latest of their dates.
    r = client.get("/.well-known/gpc.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"gpc": True, "lastUpdate": "2021-01-12"}
    # The customer's origin, proxied here with its Host: that website's policy (published 2021-01-12).
    site = client.get("/.well-known/gpc.json", headers={"Host": "www.lmt.lv"})
    assert site.json() == {"gpc": True, "lastUpdate": "2021-01-12"}
    named = client.get("/.well-known/gpc.json", params={"controller": "lmt"})
    assert named.json() == site.json()


def test_gpc_json_takes_its_date_from_the_policy_not_the_code(container: Container) -> None:
    from sargs.domains.web.consent_mode import gpc_for

    [telecom] = [p for p in container.registry.policies if p.web and p.web.controller == "lmt"]
    assert telecom.web is not None
    changed = telecom.model_copy(
        update={"web": telecom.web.model_copy(update={"gpc_last_update": date(2026, 12, 1)})}
    )
    assert gpc_for([changed], host="www.lmt.lv") == {"gpc": True, "lastUpdate": "2026-12-01"}
    assert gpc_for([changed], host="sargs.example") == {"gpc": True, "lastUpdate": "2026-12-01"}
    assert gpc_for([], host="www.lmt.lv") is None


def test_gpc_json_for_a_controller_without_a_website_is_a_clear_404(client: TestClient) -> None:
    r = client.get("/.well-known/gpc.json", params={"controller": "nobody"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "controller 'nobody' has no website (policy section web:)"


def test_the_banner_gets_consent_mode_types_per_category(client: TestClient) -> None:
    r = client.get("/api/v1/web/cookie-categories", params={"controller": "lmt", "lang": "de"})
    body = r.json()
    assert r.status_code == 200 and body["language"] == "lv"  # no German texts: the policy's default
    assert {c["id"]: c["consent_types"] for c in body["categories"]} == {
        "functional": ["functionality_storage", "security_storage"],
        "analytics": ["analytics_storage"],
        "marketing": ["ad_storage", "ad_user_data", "ad_personalization"],
    }
    assert body["consent_mode"] == {"wait_for_update_ms": 500, "regions": []}
    bad = client.get("/api/v1/web/cookie-categories", params={"controller": "lmt", "lang": "lv;drop"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (choice(visitor_id="short"), "visitor_id"),
        (choice(visitor_id="x" * 20 + "<script>"), "visitor_id"),
        (choice(controller="nobody"), "controller"),
        (choice(accepted=["analytics", "tracking-pixels"]), "accepted"),
        (choice(language="de"), "language"),
        (choice(extra="field"), "extra"),
    ],
)
def test_bad_choices_are_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, container: Container, body: dict[str, Any], field: str
) -> None:
    r = client.post(URL, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert stored(container) == 0


def test_only_listed_origins_may_call_the_banner_api(client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options(URL, headers={"Origin": "https://www.lmt.lv", **preflight})
    bad = client.options(URL, headers={"Origin": "https://evil.example", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://www.lmt.lv"
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
    other = client.get("/api/v1/health", headers={"Origin": "https://www.lmt.lv"})
    assert "access-control-allow-origin" not in other.headers  # CORS is for the banner's API only


def test_one_address_is_rate_limited(client: TestClient, container: Container) -> None:
    answers = [client.post(URL, json=choice()).status_code for _ in range(125)]
    assert answers[:120] == [201] * 120 and set(answers[120:]) == {429}
    assert stored(container) == 120


def test_a_visitor_signed_in_to_the_portal_is_linked_to_the_choice(
    client: TestClient, container: Container, codes: FakeCodeSender
) -> None:
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s, identities=[Identity("msisdn", "+37129123456")], now=container.clock.now()
        )
    portal_sign_in(client, "29123456", codes.last_code)
    r = client.post("/portal/cookie-consent", json=choice())
    assert r.status_code == 201 and r.json()["linked_to_subject"] is True
    anonymous = TestClient(client.app).post("/portal/cookie-consent", json=choice(visitor_id="w" * 24))
    assert anonymous.json()["linked_to_subject"] is False
    with container.read_sessions.begin() as s:
        assert [r.subject_id for r in choices_of(session=s, visitor_id=VISITOR)] == [subject_id]


def test_a_choice_sent_as_a_form_or_plain_text_is_refused(client: TestClient, container: Container) -> None:
    import json

    for kind in ("text/plain", "application/x-www-form-urlencoded"):
        for url in (URL, "/portal/cookie-consent"):
            r = client.post(url, content=json.dumps(choice()).encode(), headers={"Content-Type": kind})
            assert r.status_code == 422 and r.json()["error"]["field"] == "content-type"
    assert stored(container) == 0
