"""`sargs sms send` and `sargs mail send` as real processes: SIGTERM in the middle of a batch lets
the message being sent finish and hands the rest of the batch back at once, instead of leaving it
leased for two minutes (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from sargs.bootstrap import example_policy_paths
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.outbox import claim as claim_mail
from sargs.domains.mail.outbox import enqueue as enqueue_mail
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.outbox import claim as claim_sms
from sargs.domains.sms.outbox import enqueue as enqueue_sms
from sargs.entrypoints.container import Container
from tests.processes import free_port, sargs, sargs_env

MESSAGES = 6


class SlowGateway:
    """An SMS gateway (and, for mail, nothing else is needed) that takes `delay` seconds per message."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    gateway.received += 1
                    n = gateway.received
                time.sleep(gateway.delay)
                body = json.dumps({"id": f"gw-{n}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[SlowGateway]:
    g = SlowGateway(delay=0.6)
    yield g
    g.close()


def wait_until(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise AssertionError(
                f"the sender exited ({proc.returncode}) before {what}:\n{proc.stdout.read()}"
            )  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    return rc, proc.stdout.read() if proc.stdout else ""


def test_sigterm_hands_back_the_unsent_rest_of_an_sms_batch_at_once(
    container: Container, db_url: str, gateway: SlowGateway
) -> None:
    with container.sessions.begin() as session:
        for i in range(MESSAGES):
            enqueue_sms(
                session=session, to=f"+3712912345{i}", text="Paldies!", kind="reply", now=datetime.now(UTC)
            )
    env = sargs_env(
        database_url=db_url,
        policy_files=",".join(str(p) for p in example_policy_paths()),
        sms_provider="http",
        sms_provider_url=gateway.url,
    )
    proc = subprocess.Popen(
        sargs("sms", "send", "--batch", str(MESSAGES)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_until("the first message reached the gateway", lambda: gateway.received >= 1, proc)
    rc, out = stop(proc)
    assert rc == 0, out
    assert "handed back unsent" in out
    with container.sessions.begin() as session:
        statuses = sorted(session.scalars(select(SmsOutbox.status)))
        claimable = claim_sms(session=session, now=datetime.now(UTC), limit=MESSAGES)
    sent = statuses.count("sent")
    assert 1 <= sent < MESSAGES and "sending" not in statuses, statuses
    assert len(claimable) == MESSAGES - sent  # the rest is due now, not in two minutes
    assert gateway.received == sent  # nothing handed over twice, nothing lost


def test_sigterm_hands_back_the_unsent_rest_of_a_mail_batch_at_once(
    container: Container, db_url: str
) -> None:
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class SlowSmtp:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            import asyncio

            received.append(envelope.content)  # type: ignore[attr-defined]
            await asyncio.sleep(0.6)
            return "250 OK"

    port = free_port()
    smtp = Controller(SlowSmtp(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with container.sessions.begin() as session:
            for i in range(MESSAGES):
                enqueue_mail(
                    session=session,
                    to=f"klients{i}@piemērs.lv",
                    subject="Jūsu pieprasījums",
                    text="Labdien!",
                    kind="notice",
                    now=datetime.now(UTC),
                )
        env = sargs_env(
            database_url=db_url,
            policy_files=",".join(str(p) for p in example_policy_paths()),
            smtp_host="127.0.0.1",
            smtp_port=str(port),
            smtp_from="sargs@lmt.example",
            smtp_starttls="false",
        )
        proc = subprocess.Popen(
            sargs("mail", "send", "--batch", str(MESSAGES)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until("the first e-mail reached the SMTP server", lambda: len(received) >= 1, proc)
        rc, out = stop(proc)
    finally:
        smtp.stop()
    assert rc == 0, out
    with container.sessions.begin() as session:
        statuses = sorted(session.scalars(select(MailOutbox.status)))
        claimable = claim_mail(session=session, now=datetime.now(UTC), limit=MESSAGES)
    sent = statuses.count("sent")
    assert 1 <= sent < MESSAGES and "sending" not in statuses, statuses
    assert len(claimable) == MESSAGES - sent
