"""Portal sign-in codes by SMS go through the SMS outbox with the wired CodeSender: queued in the
sign-in's own transaction, handed to the SMS sender by the worker, and blanked once sent."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sargs.domains.portal.model import OneTimeCode
from sargs.domains.portal.service import finish_sign_in, start_sign_in
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.outbox import DeliveryReport, deliver_due
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from sargs.integrations.codes import ChannelCodeSender
from tests.conftest import NOW
from tests.web_helpers import portal_sign_in

KEY = b"test-key"
PHONE = Identity("msisdn", "+37129000901")
EN_CODE = re.compile(r"^Your Sargs code: (\d{6})\. Valid for 10 minutes\. Do not share it\.$")
LV_CODE = re.compile(r"^Jūsu Sargs kods: (\d{6})\. Derīgs 10 minūtes\. Nevienam to nestāstiet\.$")
CODE_REMOVED = "(one-time code, removed after sending)"


@dataclass(frozen=True)
class Call:
    to: str
    sender: str | None
    text: str
    reference: str


class FakeSmsSender:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        with self._lock:
            self.calls.append(Call(to, sender, text, reference))
        return f"prov-{len(self.calls)}"


def person(container: Container) -> str:
    with container.sessions.begin() as s:
        return create_subject(session=s, identities=[PHONE], now=container.clock.now(), groups={"lmt": "own"})


def start(container: Container, session: Session, language: str = "en") -> str:
    return start_sign_in(
        session=session,
        key=KEY,
        identity=PHONE,
        sender=container.code_sender,
        now=container.clock.now(),
        language=language,
    )


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def outbox(container: Container) -> list[SmsOutbox]:
    with container.read_sessions.begin() as s:
        return list(s.scalars(select(SmsOutbox)))


def deliver(container: Container, sender: FakeSmsSender) -> DeliveryReport:
    return deliver_due(sessions=container.sessions, sender=sender, now=container.clock.now)


def test_the_container_wires_the_outbox_code_sender(container: Container) -> None:
    assert isinstance(container.code_sender, ChannelCodeSender)


def test_a_phone_sign_in_queues_one_code_message_in_its_own_transaction(container: Container) -> None:
    sid = person(container)
    with container.sessions.begin() as session:
        challenge = start(container, session)
        assert count(session, SmsOutbox) == 1  # written by this transaction ...
        with container.read_sessions.begin() as elsewhere:
            assert count(elsewhere, SmsOutbox) == 0  # ... and not visible before it commits

    [message] = outbox(container)
    assert (message.kind, message.to_number, message.sender) == ("code", PHONE.value, None)
    assert (message.status, message.attempts, message.next_attempt_at) == ("queued", 0, NOW)
    assert (message.encoding, message.segments) == ("GSM-7", 1)
    assert EN_CODE.match(message.text), message.text
    with container.read_sessions.begin() as s:
        code_row = s.get(OneTimeCode, challenge)
        assert code_row is not None and code_row.subject_id == sid


def test_a_sign_in_that_rolls_back_leaves_neither_code_nor_message(container: Container) -> None:
    person(container)
    with pytest.raises(RuntimeError, match="after the code"), container.sessions.begin() as session:
        start(container, session)
        raise RuntimeError("something failed after the code was issued")

    with container.read_sessions.begin() as s:
        assert (count(s, SmsOutbox), count(s, OneTimeCode)) == (0, 0)


def test_an_unknown_phone_gets_a_challenge_but_nothing_is_queued(container: Container) -> None:
    with container.sessions.begin() as session:
        challenge = start(container, session)
    assert len(challenge) == 32
    assert outbox(container) == []


def test_the_worker_hands_the_code_to_the_sender_and_the_stored_text_forgets_it(container: Container) -> None:
    sid = person(container)
    with container.sessions.begin() as session:
        challenge = start(container, session)
    [queued] = outbox(container)
    sender = FakeSmsSender()

    report = deliver(container, sender)

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [call] = sender.calls
    assert (call.to, call.sender, call.reference) == (PHONE.value, None, queued.id)
    match = EN_CODE.match(call.text)
    assert match, call.text
    code = match.group(1)
    [done] = outbox(container)
    assert (done.status, done.text, done.to_number, done.provider_message_id) == (
        "sent",
        CODE_REMOVED,
        None,
        "prov-1",
    )
    assert code not in done.text
    with container.sessions.begin() as s:  # the code the sender got is the one that signs in
        assert (
            finish_sign_in(session=s, key=KEY, challenge=challenge, code=code, now=container.clock.now())
            == sid
        )


def test_a_latvian_code_that_fits_one_segment_is_sent_as_written(container: Container) -> None:
    person(container)
    with container.sessions.begin() as session:
        start(container, session, language="lv")
    [queued] = outbox(container)
    assert (queued.encoding, queued.segments) == ("UCS-2", 1)
    sender = FakeSmsSender()

    deliver(container, sender)

    [call] = sender.calls
    assert LV_CODE.match(call.text), call.text
    assert call.text == queued.text


def test_portal_sign_in_by_phone_end_to_end_through_the_outbox(
    container: Container, client: TestClient
) -> None:
    person(container)
    sender = FakeSmsSender()

    def code_from_the_sms() -> str:
        deliver(container, sender)
        [call] = sender.calls
        match = re.search(r"\b(\d{6})\b", call.text)
        assert match and call.to == PHONE.value
        return match.group(1)

    portal_sign_in(client, "29000901", code_from_the_sms)

    [done] = outbox(container)
    assert (done.kind, done.status, done.text, done.to_number) == ("code", "sent", CODE_REMOVED, None)
    assert client.get("/portal/consents").status_code == 200
