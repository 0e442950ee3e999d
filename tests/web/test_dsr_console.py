"""Rights requests in the console and the portal: views, intake per channel, verification
evidence, holds seen by the person, extensions, and the marketing objection taking effect at once."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.bootstrap import create_app
from sargs.domains.consent.service import Actor, current_states, record_consent
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.mail.model import MailOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web_helpers import console_csrf, console_login, csrf_of, portal_sign_in

C = "lytagra-lv"
Staff = Callable[..., tuple[str, str]]


def file_in_console(browser: TestClient, **fields: str) -> str:
    data = {
        "csrf": console_csrf(browser),
        "controller": C,
        "kind": "access",
        "channel": "in_person",
        "identities": "edgars@example.lv",
        "name": "Edgars Z",
        "address": "Liepāja",
        "contact": "edgars@example.lv",
        "signed": "true",
        **fields,
    }
    r = browser.post("/console/dsr/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    match = re.search(r"/console/dsr/([0-9a-f]{32})", r.headers["location"])
    assert match
    return match.group(1)


def test_representative_of_a_nonprofit_needs_its_registration_number(
    container: Container, staff_member: Staff
) -> None:
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", controllers=[C]))
        rid = file_in_console(browser, channel="representative", kind="erasure", ground="unlawful")
        form = {
            "csrf": console_csrf(browser),
            "method": "authorisation",
            "representative_name": "Biedrība Datu sargi",
            "representative_kind": "nonprofit",
            "document": "pilnvara Nr. 12",
        }
        r = browser.post(f"/console/dsr/{rid}/verify?lang=en", data=form)
        assert r.status_code == 422 and "registration number" in r.text
        r = browser.post(
            f"/console/dsr/{rid}/verify",
            data={**form, "registration_number": "40008123456"},
            follow_redirects=False,
        )
        assert r.status_code == 303
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.status == "verified"
        assert row.representative and row.representative["representative_kind"] == "nonprofit"


def test_an_e_signed_request_keeps_the_files_hash_not_the_file(
    container: Container, staff_member: Staff
) -> None:
    from sargs.integrations.esign import sample

    ca = sample.make_ca()  # no trust store configured here: a sound signature is indeterminate
    big = {"pieprasijums.txt": b"request", "scan.bin": os.urandom(3 * 1024 * 1024)}  # over 1 MiB
    signed = sample.signed_asice(big, sample.make_signer(ca))
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("operator", controllers=[C]))
        rid = file_in_console(browser, channel="email")
        r = browser.post(
            f"/console/dsr/{rid}/verify",
            data={"csrf": console_csrf(browser), "method": "e_signature"},
            files={"signed_file": ("pieprasijums.edoc", signed, "application/octet-stream")},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.verification is not None
        assert row.verification["evidence"]["sha256"] == hashlib.sha256(signed).hexdigest()
        assert row.verification["evidence"]["file_name"] == "pieprasijums.edoc"
        assert row.verification["signature"]["status"] == "indeterminate"
    with TestClient(create_app(container)) as browser:  # the same body anywhere else is too large
        console_login(browser, *staff_member("operator", controllers=[C]))
        r = browser.post(f"/console/dsr/{rid}/hold", data={"csrf": "x", "message": "x" * (3 * 1024 * 1024)})
        assert r.status_code == 413


def test_overdue_and_due_soon_views_and_the_auditor_only_reads(
    container: Container, staff_member: Staff
) -> None:
    app = create_app(container)
    operator = staff_member("operator", controllers=[C])
    with TestClient(app) as browser:
        console_login(browser, *operator)
        old = file_in_console(browser)
    container.clock.advance(days=26)  # type: ignore[attr-defined]
    with TestClient(app) as browser:
        console_login(browser, *operator)
        fresh = file_in_console(browser, identities="jauns@example.lv")
        soon = browser.get("/console/dsr?view=due_soon&lang=en").text
        assert old in soon and fresh not in soon
    container.clock.advance(days=5)  # type: ignore[attr-defined]
    with TestClient(app) as browser:
        console_login(browser, *operator)
        overdue = browser.get("/console/dsr?view=overdue&lang=en").text
        assert old in overdue and fresh not in overdue and "Overdue (1)" in overdue
    with TestClient(app) as auditor:
        console_login(auditor, *staff_member("auditor"))
        page = auditor.get(f"/console/dsr/{old}?lang=en")
        assert page.status_code == 200 and "Verify identity" not in page.text
        r = auditor.post(
            f"/console/dsr/{old}/verify", data={"csrf": csrf_of(page.text), "method": "id_document"}
        )
        assert r.status_code == 403


def test_extension_is_recorded_before_the_deadline_told_to_the_requester_and_refused_after_it(
    container: Container, staff_member: Staff, codes: FakeCodeSender
) -> None:
    app, dpo = create_app(container), staff_member("dpo")
    form = {"days": "20", "reason": "five systems to search", "notice": "We need 20 more days."}
    with TestClient(app) as browser:
        console_login(browser, *dpo)
        rid = file_in_console(browser)
        r = browser.post(
            f"/console/dsr/{rid}/extend", data={**form, "csrf": console_csrf(browser)}, follow_redirects=False
        )
        assert r.status_code == 303
    container.clock.advance(days=31)  # type: ignore[attr-defined]
    with TestClient(app) as browser:
        console_login(browser, *dpo)
        r = browser.post(f"/console/dsr/{rid}/extend?lang=en", data={**form, "csrf": console_csrf(browser)})
        assert r.status_code == 409 and "first deadline has passed" in r.text
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.due_at == row.first_due_at + timedelta(days=20)
        assert row.extension and row.extension["notice"] == "We need 20 more days."
    assert codes.sent == []  # not sent synchronously: queued in the e-mail outbox with the request
    with container.sessions() as session:
        queued = session.execute(select(MailOutbox.kind, MailOutbox.to_address, MailOutbox.text)).all()
    assert [tuple(q) for q in queued] == [("notice", "edgars@example.lv", "Lytagra: We need 20 more days.")]


def test_a_portal_objection_to_marketing_stops_it_at_once_and_a_hold_message_reaches_the_person(
    container: Container, codes: FakeCodeSender, staff_member: Staff
) -> None:
    phone = "+37129000888"
    now = container.clock.now()
    with container.sessions.begin() as session:
        sid = create_subject(
            session=session, identities=[Identity("msisdn", phone)], now=now, groups={C: "client"}
        )
        record_consent(
            session=session,
            registry=container.registry,
            subject_id=sid,
            controller=C,
            purpose="direct-marketing",
            action="grant",
            channel="portal",
            actor=Actor("subject", sid),
            now=now,
        )
    app = create_app(container)
    with TestClient(app) as person:
        portal_sign_in(person, phone, codes.last_code)
        page = person.get("/portal/requests")
        r = person.post(
            "/portal/requests",
            data={
                "csrf": csrf_of(page.text),
                "controller": C,
                "kind": "objection",
                "ground": "direct_marketing",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        with container.sessions.begin() as session:
            [state] = [
                s for s in current_states(session=session, subject_id=sid) if s.purpose == "direct-marketing"
            ]
            assert state.status == "withdrawn"
            rid = session.scalar(select(DsrRequest.id).where(DsrRequest.subject_id == sid))
            row = session.get(DsrRequest, rid)
            assert row is not None and row.due_at == now + timedelta(hours=72)
        with TestClient(app) as staff:
            console_login(staff, *staff_member("operator", controllers=[C]))
            r = staff.post(
                f"/console/dsr/{rid}/hold",
                data={"csrf": console_csrf(staff), "message": "Lūdzu norādiet savu dzīvesvietu."},
                follow_redirects=False,
            )
            assert r.status_code == 303
        assert "Lūdzu norādiet savu dzīvesvietu." in person.get("/portal/requests").text
        assert codes.sent[-1] == ("sms", phone, "Lytagra: Lūdzu norādiet savu dzīvesvietu.")


def test_a_held_request_resumes_when_its_content_is_complete_and_any_request_can_be_refused(
    container: Container, staff_member: Staff
) -> None:
    app = create_app(container)
    with TestClient(app) as browser:
        console_login(browser, *staff_member("dpo"))
        rid = file_in_console(browser, channel="post", address="", signed="")
        r = browser.post(
            f"/console/dsr/{rid}/hold",
            data={"csrf": console_csrf(browser), "message": "Please send your address, signed."},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = browser.post(
            f"/console/dsr/{rid}/content",
            data={"csrf": console_csrf(browser), "address": "Ventspils", "signed": "true"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        with container.sessions.begin() as session:
            row = session.get(DsrRequest, rid)
            assert row is not None and row.status == "received" and row.requester["address"] == "Ventspils"
        r = browser.post(
            f"/console/dsr/{rid}/fulfil", data={"csrf": console_csrf(browser), "outcome": "refused"}
        )
        assert r.status_code == 422  # a refusal says why
        r = browser.post(
            f"/console/dsr/{rid}/fulfil",
            data={"csrf": console_csrf(browser), "outcome": "refused", "text": "manifestly unfounded"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        html = browser.get(f"/console/dsr/{rid}/answer?format=html&lang=en").text
        assert "manifestly unfounded" in html and "Data State Inspectorate" in html


def test_no_extension_without_a_way_to_tell_the_requester_and_nothing_changes(
    container: Container, staff_member: Staff
) -> None:
    form = {"days": "20", "reason": "five systems to search", "notice": "We need 20 more days."}
    with TestClient(create_app(container)) as browser:
        console_login(browser, *staff_member("dpo"))
        rid = file_in_console(
            browser, channel="post", identities="customer:C-77", contact="Rīga, Brīvības iela 1"
        )
        r = browser.post(f"/console/dsr/{rid}/extend?lang=en", data={**form, "csrf": console_csrf(browser)})
    assert r.status_code == 422 and "no e-mail or phone on file" in r.text
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None and row.due_at == row.first_due_at and row.extension is None
        assert session.scalars(select(MailOutbox)).all() == []
