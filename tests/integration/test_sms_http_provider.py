"""The HTTP SMS adapter against a real local HTTP server acting as the SMS gateway: what it
sends, how it reads each kind of answer, and, end to end with the outbox, that the idempotency
key keeps a message re-sent after a crashed worker from reaching anyone twice."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sargs.core.clock import FixedClock
from sargs.domains.delivery import LEASE
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.outbox import claim, deliver_due, enqueue
from sargs.domains.sms.ports import PermanentSendError, TransientSendError
from sargs.entrypoints.container import Container
from sargs.integrations.sms.http_provider import HttpSmsSender

TOKEN = "gw-token-123"
PATH = "/v1/messages"
SHORT_NUMBER = "29307777"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


class Gateway:
    """A fake SMS gateway: records every request, answers as told, and de-duplicates by
    Idempotency-Key (a repeated key gets the first id back and is not a second message)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.messages: list[Received] = []  # accepted, one per idempotency key
        self.ids: dict[str, str] = {}  # idempotency key -> message id
        self.answer: int | str = 200  # a status code, or "slow": answer only after `release`
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        received = Received(
            handler.path, {k.lower(): v for k, v in handler.headers.items()}, json.loads(raw or b"{}")
        )
        body: dict[str, Any] = {}
        with self.lock:
            self.requests.append(received)
            answer = self.answer
            key = received.headers.get("idempotency-key", "")
            if answer == 200:
                if key not in self.ids:
                    self.ids[key] = f"gw-{len(self.ids) + 1}"
                    self.messages.append(received)
                body = {"id": self.ids[key], "status": "accepted"}
        if answer == "slow":
            self.release.wait(timeout=10)
            status, body = 200, {"id": "too-late"}
        elif answer == 200:
            status = 200
        elif answer == 400:
            status, body = 400, {"error": "invalid number"}
        else:
            assert isinstance(answer, int)
            status, body = answer, {"error": "try later"}
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:  # the client gave up (timeout) and closed the connection
            pass


def make_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            gateway.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out leaves a broken pipe behind; that is the test's point


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    server = QuietServer(("127.0.0.1", 0), make_handler(gw))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    try:
        yield gw
    finally:
        gw.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http(gateway: Gateway) -> Iterator[HttpSmsSender]:
    sender = HttpSmsSender(url=gateway.url, token=TOKEN, timeout=2.0)
    try:
        yield sender
    finally:
        sender.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- one request -----------------------------------------------------------------------------------


def test_a_message_is_posted_as_json_with_bearer_token_and_idempotency_key(
    gateway: Gateway, http: HttpSmsSender
) -> None:
    provider_id = http.send(
        to="+37129000801", sender=SHORT_NUMBER, text="Jūsu kods: 493817", reference="ref-1"
    )

    assert provider_id == "gw-1"
    [request] = gateway.requests
    assert request.path == PATH
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["idempotency-key"] == "ref-1"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "to": "+37129000801",
        "from": SHORT_NUMBER,
        "text": "Jūsu kods: 493817",
        "reference": "ref-1",
    }


def test_without_a_token_no_authorization_header_is_sent(gateway: Gateway) -> None:
    sender = HttpSmsSender(url=gateway.url, timeout=2.0)
    try:
        assert sender.send(to="+37129000801", sender=None, text="hi", reference="ref-2") == "gw-1"
    finally:
        sender.close()
    [request] = gateway.requests
    assert "authorization" not in request.headers
    assert request.body["from"] is None


def test_the_same_idempotency_key_twice_is_one_message_at_the_gateway(
    gateway: Gateway, http: HttpSmsSender
) -> None:
    first = http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-3")
    again = http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-3")
    assert first == again == "gw-1"
    assert (len(gateway.requests), len(gateway.messages)) == (2, 1)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient(
    gateway: Gateway, http: HttpSmsSender, status: int
) -> None:
    gateway.answer = status
    with pytest.raises(TransientSendError) as caught:
        http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-4")
    assert str(caught.value) == f"provider answered {status}"
    assert len(gateway.requests) == 1 and gateway.messages == []


def test_a_rejected_message_is_permanent_and_says_the_status(gateway: Gateway, http: HttpSmsSender) -> None:
    gateway.answer = 400
    with pytest.raises(PermanentSendError) as caught:
        http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-5")
    assert str(caught.value) == 'provider refused the message: 400 {"error":"invalid number"}'


def test_a_gateway_slower_than_the_timeout_is_transient(gateway: Gateway) -> None:
    gateway.answer = "slow"
    sender = HttpSmsSender(url=gateway.url, token=TOKEN, timeout=0.3)
    try:
        with pytest.raises(TransientSendError) as caught:
            sender.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-6")
    finally:
        sender.close()
    assert str(caught.value) == "provider timed out: ReadTimeout"
    assert len(gateway.requests) == 1


def test_a_gateway_that_refuses_connections_is_transient() -> None:
    sender = HttpSmsSender(url=f"http://127.0.0.1:{closed_port()}{PATH}", timeout=2.0)
    try:
        with pytest.raises(TransientSendError) as caught:
            sender.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-7")
    finally:
        sender.close()
    assert str(caught.value) == "provider unreachable: ConnectError"


# --- end to end with the outbox --------------------------------------------------------------------


def test_outbox_to_gateway_each_message_once_even_after_a_worker_crash(
    container: Container, clock: FixedClock, gateway: Gateway, http: HttpSmsSender
) -> None:
    def queue(n: int) -> list[str]:
        with container.sessions.begin() as session:
            return [
                enqueue(
                    session=session,
                    to=f"+3712900090{i}",
                    text=f"Ziņa {i}",
                    kind="notice",
                    now=clock.now(),
                    sender=SHORT_NUMBER,
                ).id
                for i in range(n)
            ]

    def deliver() -> tuple[int, int, int]:
        report = deliver_due(sessions=container.sessions, sender=http, now=clock.now)
        return report.sent, report.retried, report.failed

    def stored() -> dict[str, SmsOutbox]:
        with container.read_sessions.begin() as session:
            return {r.id: r for r in session.query(SmsOutbox)}

    first = queue(3)
    assert deliver() == (3, 0, 0)
    assert Counter(r.headers["idempotency-key"] for r in gateway.requests) == Counter(first)
    assert sorted(m.body["text"] for m in gateway.messages) == ["Ziņa 0", "Ziņa 1", "Ziņa 2"]
    assert deliver() == (0, 0, 0) and len(gateway.requests) == 3

    # A worker claims two more, the gateway accepts them, and the worker dies before recording it.
    crashed = queue(2)
    with container.sessions.begin() as session:
        claimed = claim(session=session, now=clock.now(), limit=10)
    assert sorted(c.id for c in claimed) == sorted(crashed)
    accepted = {c.id: http.send(to=c.to, sender=c.sender, text=c.text, reference=c.id) for c in claimed}
    assert deliver() == (0, 0, 0)  # still leased

    clock.advance(seconds=LEASE.total_seconds())
    assert deliver() == (2, 0, 0)

    keys = Counter(r.headers["idempotency-key"] for r in gateway.requests)
    assert keys == Counter({**dict.fromkeys(first, 1), **dict.fromkeys(crashed, 2)})
    assert len(gateway.messages) == 5
    assert Counter(m.headers["idempotency-key"] for m in gateway.messages) == Counter(first + crashed)
    rows = stored()
    assert {i: rows[i].provider_message_id for i in crashed} == accepted
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.to_number for r in rows.values()} == {None}
    assert {rows[i].attempts for i in crashed} == {2}


def test_a_redirect_is_not_a_delivery(gateway: Gateway, http: HttpSmsSender) -> None:
    gateway.answer = 302
    with pytest.raises(PermanentSendError) as caught:
        http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-302")
    assert str(caught.value) == "provider answered 302: check SARGS_SMS_PROVIDER_URL"


def test_a_providers_error_text_keeps_no_phone_number(gateway: Gateway, http: HttpSmsSender) -> None:
    gateway.answer = 422
    gateway_error = PermanentSendError
    with pytest.raises(gateway_error) as caught:
        http.send(to="+37129000801", sender=SHORT_NUMBER, text="hi", reference="ref-422")
    assert str(caught.value) == 'provider refused the message: 422 {"error":"try later"}'
    from sargs.integrations.sms.http_provider import _without_numbers

    assert (
        _without_numbers('{"error":"+371 29000801 is not reachable"}')
        == '{"error":"[number] is not reachable"}'
    )
