"""E-mail codes through a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from sargs.bootstrap import code_sender, create_app
from sargs.core.config import Settings
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from sargs.integrations.mail.smtp import SmtpMailer
from tests.web_helpers import csrf_of


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_mailer_delivers_a_plain_text_message(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    SmtpMailer(host="127.0.0.1", port=port, sender="sargs@example.lv", starttls=False).send(
        "anna@example.lv", "Kods", "Jūsu kods: 123456"
    )
    [(to, raw)] = inbox.messages
    msg = message_from_bytes(raw)
    assert to == ["anna@example.lv"] and msg["Subject"] == "Kods"
    assert "123456" in msg.get_payload(decode=True).decode()


def test_portal_sign_in_by_email_goes_through_smtp(container: Container, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    container.code_sender = code_sender(
        Settings(
            database_url="sqlite://", demo=True, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
        ),
        container.clock,
    )
    with container.sessions.begin() as s:
        create_subject(
            session=s,
            identities=[Identity("email", "anna@example.lv")],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
    with TestClient(create_app(container)) as browser:
        page = browser.get("/portal/signin?lang=en")
        r = browser.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": "Anna@Example.lv"})
        assert r.status_code == 200
        [(to, raw)] = inbox.messages
        assert to == ["anna@example.lv"]
        code = re.search(r"\b(\d{6})\b", message_from_bytes(raw).get_payload(decode=True).decode())
        assert code
        challenge = re.search(r'name="challenge" value="([^"]+)"', r.text)
        assert challenge
        r = browser.post(
            "/portal/verify",
            data={"csrf": csrf_of(r.text), "challenge": challenge.group(1), "code": code.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/portal/consents"
