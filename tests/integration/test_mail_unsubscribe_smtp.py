"""Marketing e-mail end to end: a campaign is queued, `sargs mail send` hands it to a real SMTP
server (aiosmtpd), and the received message's one-click unsubscribe (RFC 8058) withdraws consent."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.service import Actor, history, record_consent
from sargs.domains.mail.model import MailOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container
from tests.web_helpers import csrf_of

BASE = "https://sargs.example.lv"
runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, raw in self.messages]  # type: ignore[misc]


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for name in ("SARGS_POLICY_FILES", "SARGS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SARGS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SARGS_SMTP_PORT", str(port))
    monkeypatch.setenv("SARGS_SMTP_STARTTLS", "false")
    monkeypatch.setenv("SARGS_SMTP_FROM", "LMT <zinas@lmt.example>")
    monkeypatch.setenv("SARGS_MAIL_LINK_BASE_URL", BASE)
    try:
        yield inbox
    finally:
        controller.stop()


def person(container: Container, email: str, *purposes: str) -> str:
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s, identities=[Identity("email", email)], now=container.clock.now()
        )
        for purpose in purposes:
            record_consent(
                session=s,
                registry=container.registry,
                subject_id=subject_id,
                controller="lmt",
                purpose=purpose,
                action="grant",
                channel="portal",
                actor=Actor("subject", subject_id),
                now=container.clock.now(),
            )
    return subject_id


def cli_run(db_url: str, *args: str) -> str:
    result = runner.invoke(cli, ["--database-url", db_url, *POLICIES, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def campaign(db_url: str, tmp_path: Path) -> str:
    body = tmp_path / "offer.txt"
    body.write_text("Jauns piedāvājums: https://www.lmt.lv/piedavajumi?x=1\n", encoding="utf-8")
    return cli_run(
        db_url,
        "mail",
        "campaign",
        "--controller",
        "lmt",
        "--purpose",
        "email-tracking",
        "--subject",
        "LMT piedāvājums",
        "--text-file",
        str(body),
    )


def path_of(url: str) -> str:
    assert url.startswith(BASE + "/u/"), url
    return url[len(BASE) :]


def test_a_campaign_reaches_only_consenting_people_with_one_click_unsubscribe_that_works(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    anna = person(container, "anna@example.lv", "email-tracking")
    person(container, "janis@example.lv")  # no consent: gets nothing
    assert "queued 1 e-mails" in campaign(db_url, tmp_path)
    assert "delivered 1" in cli_run(db_url, "mail", "send", "--once")

    [message] = smtp.parsed()
    assert message["To"] == "anna@example.lv" and message["Subject"] == "LMT piedāvājums"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [url] = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert url in text  # the footer carries the same link for people reading by hand

    client = TestClient(create_app(container))
    r = client.post(
        path_of(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200 and "set-cookie" not in r.headers  # no redirect, no cookies
    with container.read_sessions.begin() as s:
        assert not check_consent(
            session=s, subject_id=anna, controller="lmt", purpose="email-tracking"
        ).allowed
        last = history(session=s, subject_id=anna)[-1]
    assert (last.action, last.channel, last.actor_type) == ("withdraw", "email_link", "subject")

    again = client.post(
        path_of(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.status_code == 200
    with container.read_sessions.begin() as s:
        assert len(history(session=s, subject_id=anna)) == 2  # a repeated POST writes nothing

    assert "queued 0 e-mails" in campaign(db_url, tmp_path)  # withdrawn at once: no more mail


def test_a_forged_or_altered_unsubscribe_token_changes_nothing(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    anna = person(container, "anna@example.lv", "email-tracking")
    campaign(db_url, tmp_path)
    with container.read_sessions.begin() as s:
        headers = s.scalar(select(MailOutbox.headers))
    [url] = re.findall(r"<(https://[^>]+)>", headers["List-Unsubscribe"])
    altered = path_of(url)[:-2] + ("AA" if not url.endswith("AA") else "BB")
    client = TestClient(create_app(container))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post(altered, content=b"List-Unsubscribe=One-Click", headers=form).status_code == 404
    assert client.post(path_of(url), content=b"something=else", headers=form).status_code == 422
    with container.read_sessions.begin() as s:
        assert check_consent(session=s, subject_id=anna, controller="lmt", purpose="email-tracking").allowed


def test_the_manual_page_unsubscribes_and_subscribes_again_in_both_languages(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    anna = person(container, "anna@example.lv", "email-tracking")
    campaign(db_url, tmp_path)
    with container.read_sessions.begin() as s:
        headers = s.scalar(select(MailOutbox.headers))
    [url] = re.findall(r"<(https://[^>]+)>", headers["List-Unsubscribe"])
    client = TestClient(create_app(container))
    page = client.get(path_of(url))
    assert (
        page.status_code == 200
        and "Viedais e-mārketings" in page.text
        and 'data-subscribed="yes"' in page.text
    )
    assert "Smart e-mail marketing" in client.get(path_of(url) + "?lang=en").text

    no_csrf = client.post(path_of(url) + "/manage", data={"action": "unsubscribe"})
    assert no_csrf.status_code == 403
    done = client.post(path_of(url) + "/manage", data={"action": "unsubscribe", "csrf": csrf_of(page.text)})
    assert 'data-subscribed="no"' in done.text
    back = client.post(path_of(url) + "/manage", data={"action": "subscribe", "csrf": csrf_of(done.text)})
    assert 'data-subscribed="yes"' in back.text
    with container.read_sessions.begin() as s:
        events = history(session=s, subject_id=anna)
    assert [(e.action, e.channel) for e in events[1:]] == [
        ("withdraw", "email_link"),
        ("grant", "email_link"),
    ]


def test_a_mail_server_refusing_the_recipient_marks_the_message_failed_and_forgets_the_address(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    async def refuse(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        return "550 no such user"

    smtp.handle_RCPT = refuse  # type: ignore[attr-defined]
    person(container, "nobody@example.lv", "email-tracking")
    campaign(db_url, tmp_path)
    assert "failed 1" in cli_run(db_url, "mail", "send", "--once")
    with container.read_sessions.begin() as s:
        row = s.scalars(select(MailOutbox)).one()
    assert (row.status, row.to_address) == ("failed", None) and "550" in (row.last_error or "")


def test_mail_queued_before_an_unsubscribe_is_never_sent(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    person(container, "anna@example.lv", "email-tracking")
    assert "queued 1 e-mails" in campaign(db_url, tmp_path)
    with container.read_sessions.begin() as s:
        headers = s.scalars(select(MailOutbox.headers)).one()
    [url] = re.findall(r"<(https://[^>]+)>", headers["List-Unsubscribe"])
    r = TestClient(create_app(container)).post(
        path_of(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert "delivered 0" in cli_run(db_url, "mail", "send", "--once")
    assert smtp.messages == []
    with container.read_sessions.begin() as s:
        row = s.scalars(select(MailOutbox)).one()
        assert (row.status, row.to_address, row.last_error) == ("failed", None, "consent no longer in force")


def test_erasing_a_person_gives_up_their_queued_mail_and_forgets_the_address(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    from sargs.domains.subjects.erasure import pseudonymise_subject

    anna = person(container, "anna@example.lv", "email-tracking")
    assert "queued 1 e-mails" in campaign(db_url, tmp_path)
    with container.sessions.begin() as s:
        pseudonymise_subject(session=s, subject_id=anna, now=container.clock.now())
    assert "delivered 0" in cli_run(db_url, "mail", "send", "--once")
    with container.read_sessions.begin() as s:
        row = s.scalars(select(MailOutbox)).one()
        assert (row.status, row.to_address, row.last_error) == ("failed", None, "recipient erased")
    assert smtp.messages == []


def test_an_old_link_still_unsubscribes_but_no_longer_subscribes_again(
    container: Container, db_url: str, smtp: Inbox, tmp_path: Path
) -> None:
    anna = person(container, "anna@example.lv", "email-tracking")
    campaign(db_url, tmp_path)
    with container.sessions.begin() as s:
        row = s.scalars(select(MailOutbox)).one()
        row.created_at = container.clock.now() - timedelta(days=31)  # a forwarded, month-old e-mail
        headers = row.headers
    [url] = re.findall(r"<(https://[^>]+)>", headers["List-Unsubscribe"])
    client = TestClient(create_app(container))
    page = client.get(path_of(url) + "?lang=en")
    done = client.post(path_of(url) + "/manage", data={"action": "unsubscribe", "csrf": csrf_of(page.text)})
    assert 'data-subscribed="no"' in done.text
    back = client.post(path_of(url) + "/manage", data={"action": "subscribe", "csrf": csrf_of(done.text)})
    assert "too old to subscribe again" in back.text and 'data-subscribed="no"' in back.text
    with container.read_sessions.begin() as s:
        assert [e.action for e in history(session=s, subject_id=anna)] == ["grant", "withdraw"]
