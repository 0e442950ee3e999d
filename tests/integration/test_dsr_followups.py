"""Issue 16 part 2: an erasure at the retailer tells each processor the policy links to it (GDPR
Art. 19) by e-mail through a real SMTP server (aiosmtpd), waits for the paper archive's manual task,
and completes when it is done; the e-mailed confirm link works once and refuses a forged or
expired one. SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.bootstrap import create_app
from sargs.core.clock import FixedClock
from sargs.domains.documents.model import Bullets
from sargs.domains.dsr.followup_model import DsrRecipientNotice, DsrTask
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.outbox import deliver_due
from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import response_document, run_fulfilment
from sargs.integrations.mail.smtp import SmtpMailer
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.dsr_fakes import with_empty_mailer
from tests.helpers import run_tasks, verified_request
from tests.integration.sources.conftest import source_url as source_url
from tests.web_helpers import csrf_of

EMAIL = "anna.berzina@example.lv"
PHONE = "+37129111222"
ACTOR = DsrActor("staff", "dpo")
LINK = re.compile(r"(https?://\S+/dsr/recipients/confirm\?t=\S+)")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> EmailMessage:
        [raw] = [raw for rcpt, raw in self.messages if address in rcpt]
        return message_from_bytes(raw, policy=email_policy.default)  # type: ignore[return-value]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpMailer]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpMailer(host="127.0.0.1", port=port, sender="sargs@lytagra.lv", starttls=False)
    finally:
        controller.stop()


def filed(container: Container, kind: str, **extra: object) -> str:
    return verified_request(
        container,
        kind=kind,
        identities=[Identity("email", EMAIL), Identity("msisdn", PHONE)],
        requester={"name": "Anna Bērziņa", "address": "Rīga, Brīvības 1", "contact": EMAIL, "signed": True},
        actor=ACTOR,
        **extra,
    )


@pytest.fixture
def shop(container: Container, source_url: Callable[[str], str]) -> str:
    url = source_url("shop")
    create_shop(url, people=10, now=container.clock.now(), known=[KnownPerson(email=EMAIL, msisdn=PHONE)])
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": url}))
    return url


def status(container: Container, rid: str) -> str:
    with container.sessions.begin() as session:
        row = session.get(DsrRequest, rid)
        assert row is not None
        return row.status


def test_an_erasure_tells_each_linked_processor_waits_for_the_paper_archive_and_then_completes(
    container: Container, shop: str, smtp: tuple[Inbox, SmtpMailer], auth: Callable[..., dict[str, str]]
) -> None:
    inbox, mailer = smtp
    rid = filed(container, "erasure", ground="unlawful")
    client = TestClient(create_app(container))
    dpo = auth("dpo")

    # The shop is erased, but the paper archive is a person's work: the request waits for it.
    assert run_fulfilment(container, rid, ACTOR).status == "in_progress"
    with container.sessions.begin() as session:
        [task] = session.scalars(select(DsrTask).where(DsrTask.request_id == rid)).all()
        assert (task.source, task.status, task.assignee) == ("paper-archive", "open", "arhivs@lytagra.lv")
        assert task.due_at == container.clock.now() + timedelta(days=7)
        assert session.scalar(select(func.count()).select_from(DsrRecipientNotice)) == 0  # told when done
    assert run_fulfilment(container, rid, ACTOR).status == "in_progress"  # a rerun still waits

    # Bad input changes nothing: a note too short, a task of another request.
    short = client.post(f"/api/v1/dsr/requests/{rid}/tasks/{task.id}/done", json={"note": "x"}, headers=dpo)
    assert short.status_code == 422, short.text
    unknown = client.post(
        f"/api/v1/dsr/requests/{rid}/tasks/nope/done", json={"note": "shredded"}, headers=dpo
    )
    assert unknown.status_code == 404 and "no task" in unknown.json()["error"]["message"]
    assert status(container, rid) == "in_progress"

    done = client.post(
        f"/api/v1/dsr/requests/{rid}/tasks/{task.id}/done", json={"note": "two forms shredded"}, headers=dpo
    )
    assert done.status_code == 200, done.text
    assert done.json()["completion_queued"] is True and done.json()["task"]["status"] == "done"
    again = client.post(
        f"/api/v1/dsr/requests/{rid}/tasks/{task.id}/done", json={"note": "again"}, headers=dpo
    )
    assert again.status_code == 409
    run_tasks(container)  # the worker's run closes the request
    assert status(container, rid) == "partially_fulfilled"  # the shop's orders are kept ten years

    # One notice per linked processor, queued with the result, and the answer says who was told.
    with container.sessions.begin() as session:
        notices = {n.recipient: n for n in session.scalars(select(DsrRecipientNotice))}
        row = session.get(DsrRequest, rid)
        assert row is not None and row.decision is not None
        told = [r["id"] for r in row.decision["recipients_told"]]
    assert set(notices) == {"delivery-partners", "contract-service-providers"} == set(told)
    doc = response_document(container, rid, language="en")
    names = [item for b in doc.blocks if isinstance(b, Bullets) for item in b.items]
    assert {notices["delivery-partners"].name, notices["contract-service-providers"].name} <= set(names)

    report = deliver_due(sessions=container.sessions, sender=mailer, now=container.clock.now)
    assert report.sent == 2, report
    courier = inbox.to("privatums@piegade.example.lv")
    provider = inbox.to("dpo@pakalpojumi.example.lv")
    courier_text, provider_text = courier.get_content(), provider.get_content()
    # lv for the couriers, en for the other providers (the policy's `language`); only the
    # identifier each holds (`identifies_by`), never the requester's name or address.
    assert "VDAR 19. pantu" in courier_text and "GDPR Art. 19" in provider_text
    assert PHONE in courier_text and EMAIL not in courier_text
    assert EMAIL in provider_text and PHONE not in provider_text
    for text in (courier_text, provider_text):
        assert rid in text and "Bērziņa" not in text and "Brīvības" not in text
    assert courier["Auto-Submitted"] == "auto-generated"

    # The couriers' link: the page changes nothing; its button confirms, once.
    [url] = LINK.findall(courier_text)
    path = urlsplit(url).path + "?" + urlsplit(url).query
    token = urlsplit(url).query.removeprefix("t=")
    page = client.get(path)
    assert (page.status_code == 200 and "Apstiprināt" in page.text) or "Confirm" in page.text
    assert notice_status(container, "delivery-partners") == "told"
    confirmed = client.post("/dsr/recipients/confirm", data={"t": token, "csrf": csrf_of(page.text)})
    assert confirmed.status_code == 200 and 'id="confirmed"' in confirmed.text, confirmed.text
    assert notice_status(container, "delivery-partners") == "confirmed"
    twice = client.post("/dsr/recipients/confirm", data={"t": token, "csrf": csrf_of(page.text)})
    assert twice.status_code == 409 and "already confirmed" in twice.text

    # A forged link (one character of the other notice's token changed) is refused and confirms nothing.
    [other] = LINK.findall(provider_text)
    other_token = urlsplit(other).query.removeprefix("t=")
    forged = other_token[:-3] + ("A" if other_token[-3] != "A" else "B") + other_token[-2:]
    bad = client.post("/dsr/recipients/confirm", data={"t": forged, "csrf": csrf_of(page.text)})
    assert bad.status_code == 400 and "not valid" in bad.text
    assert client.get("/dsr/recipients/confirm?t=garbage").status_code == 400
    assert notice_status(container, "contract-service-providers") == "told"

    # Staff see both in the API; the other is marked confirmed by hand (once).
    shown = client.get(f"/api/v1/dsr/requests/{rid}/followups", headers=dpo).json()
    assert {n["recipient"]: n["status"] for n in shown["notices"]} == {
        "delivery-partners": "confirmed",
        "contract-service-providers": "told",
    }
    nid = notices["contract-service-providers"].id
    by_hand = client.post(
        f"/api/v1/dsr/requests/{rid}/notices/{nid}/confirm", json={"note": "confirmed by phone"}, headers=dpo
    )
    assert by_hand.status_code == 200 and "token:" in by_hand.json()["confirmed_by"]
    assert (
        client.post(
            f"/api/v1/dsr/requests/{rid}/notices/{nid}/confirm", json={"note": "again"}, headers=dpo
        ).status_code
        == 409
    )


def notice_status(container: Container, recipient: str) -> str:
    with container.sessions.begin() as session:
        return str(
            session.scalar(select(DsrRecipientNotice.status).where(DsrRecipientNotice.recipient == recipient))
        )


def test_an_expired_confirm_link_is_refused_with_a_clear_409(
    container: Container, clock: FixedClock, auth: Callable[..., dict[str, str]]
) -> None:
    rid = filed(container, "restriction", details="stop using my address for deliveries")
    client = TestClient(create_app(container))
    answered = client.post(
        f"/api/v1/dsr/requests/{rid}/fulfil",
        json={"outcome": "fulfilled", "text": "restricted"},
        headers=auth("dpo"),
    )
    assert answered.status_code == 200, answered.text
    with container.sessions.begin() as session:
        mails = session.scalars(select(MailOutbox).where(MailOutbox.kind == "notice")).all()
        texts = [m.text for m in mails]
    assert len(texts) == 2 and all("restriction of processing" in t or "ierobežošana" in t for t in texts)
    [url] = LINK.findall(texts[0])
    clock.advance(days=31)
    expired = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert expired.status_code == 409 and "expired" in expired.text
    with container.sessions.begin() as session:
        assert {n.status for n in session.scalars(select(DsrRecipientNotice))} == {"told"}


def test_access_to_the_retailer_needs_no_paper_archive_task_and_tells_nobody(
    container: Container, shop: str
) -> None:
    rid = filed(container, "access")
    assert run_fulfilment(container, rid, ACTOR).status == "fulfilled"  # kinds: [erasure] only
    with container.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(DsrTask)) == 0
        assert session.scalar(select(func.count()).select_from(DsrRecipientNotice)) == 0
