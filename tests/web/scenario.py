"""The issue's "Done when" scenario, driven through the API and the web pages (TestClient).

A DPO creates an operator; the operator finds a subject and records a consent in person; the
subject signs in to the portal with a code, sees that consent and withdraws it; the DPO sees
both accesses in the audit log. Shared by the scenario test and the log-scanning test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.testclient import TestClient

from sargs.bootstrap import create_app
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web_helpers import console_csrf, console_login, csrf_of, portal_csrf, portal_sign_in

PHONE = "+37129345678"
EMAIL = "liga.berzina@example.lv"


@dataclass
class Outcome:
    subject_id: str
    operator_id: str
    staff_event_id: str
    audit: list[dict]


def run(
    container: Container,
    codes: FakeCodeSender,
    token: Callable[..., str],
    staff_member: Callable[..., tuple[str, str]],
) -> Outcome:
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE), Identity("email", EMAIL), Identity("customer", "C-7781")],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
    app = create_app(container)
    dpo_email, dpo_password = staff_member("dpo")

    # 1. The DPO creates an operator for LMT in the console.
    with TestClient(app) as dpo:
        console_login(dpo, dpo_email, dpo_password)
        r = dpo.post(
            "/console/staff",
            data={
                "csrf": console_csrf(dpo),
                "email": "operator@lmt.example",
                "name": "Ilze Operatore",
                "role": "operator",
                "controllers": "lmt",
                "password": "counter-password-2026",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        staff = dpo.get("/console/staff").text
        assert "operator@lmt.example" in staff

    # 2. The operator finds the subject by phone and records a consent given in person.
    with TestClient(app) as operator:
        console_login(operator, "operator@lmt.example", "counter-password-2026")
        r = operator.get(
            "/console/find", params={"kind": "msisdn", "value": "29 345 678"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == f"/console/subjects/{subject_id}"
        page = operator.get(r.headers["location"])
        assert page.status_code == 200 and PHONE in page.text
        r = operator.post(
            f"/console/subjects/{subject_id}/consents",
            data={"csrf": csrf_of(page.text), "choice": "lmt/offers", "action": "grant"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        receipt_url = r.headers["location"]
        staff_event_id = receipt_url.rsplit("/", 1)[1]
        receipt = operator.get(receipt_url)
        assert receipt.status_code == 200 and staff_event_id in receipt.text
        download = operator.get(f"{receipt_url}/download")
        record = download.json()["dpv:hasRecordOfActivity"]
        assert record["sargs:event"]["sargs:channel"] == "staff"
        operator_id = record["dpv:hasConsentStatus"]["dpv:isIndicatedBy"]["dct:identifier"]
        assert record["sargs:event"]["sargs:evidence"]["operator"] == operator_id

    # 3. The subject signs in with a code by SMS, sees the consent and withdraws it.
    with TestClient(app) as person:
        portal_sign_in(person, "29345678", lambda: codes.last_code(PHONE))
        consents = person.get("/portal/consents?lang=en")
        box = re.search(r'<input type="checkbox" role="switch" id="c-lmt-offers"[^>]*>', consents.text)
        assert box and "checked" in box.group(0)
        shown = re.findall(
            r'name="shown" value="([^"]+)"', consents.text.split('id="consents-lmt"')[1].split("</form>")[0]
        )
        granted: list[str] = []  # every box cleared: offers is withdrawn, the others stay "not asked"
        r = person.post(
            "/portal/consents",
            data={"csrf": csrf_of(consents.text), "controller": "lmt", "shown": shown, "granted": granted},
            follow_redirects=False,
        )
        assert r.status_code == 303
        history = person.get("/portal/history").text
        assert history.count("/portal/receipts/") == 2
        r = person.post("/portal/signout", data={"csrf": portal_csrf(person)}, follow_redirects=False)
        assert r.status_code == 303
        assert person.get("/portal/consents", follow_redirects=False).status_code == 303

    # 4. The DPO reads the audit log for this person (API), and sees both accesses.
    dpo_token = token("dpo")
    r = TestClient(app).get(
        "/api/v1/audit",
        params={"subject": f"msisdn:{PHONE}"},
        headers={"Authorization": f"Bearer {dpo_token}"},
    )
    assert r.status_code == 200
    return Outcome(subject_id, operator_id, staff_event_id, r.json()["items"])
