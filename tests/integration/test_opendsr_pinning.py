"""OpenDSR callbacks connect to the address that was checked, not to whatever the name resolves
to a moment later (DNS rebinding): real HTTP servers on two loopback addresses stand for the
public receiver and an inside service, and the name answers differently on its second lookup."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from sargs.integrations.opendsr.http import HttpCallbackPoster, RefusedDestination

NAME = "callbacks.processor.example"
PUBLIC, INSIDE = "127.0.0.2", "127.0.0.1"  # stand-ins: only PUBLIC is allowed as "public" here


class Receiver:
    def __init__(self, address: str, port: int) -> None:
        self.hits: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append({"host": self.headers.get("Host", ""), "path": self.path})
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver, int]]:
    probe = socket.socket()
    probe.bind((PUBLIC, 0))
    port = probe.getsockname()[1]
    probe.close()
    public, inside = Receiver(PUBLIC, port), Receiver(INSIDE, port)
    yield public, inside, port
    public.close()
    inside.close()


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """NAME resolves to PUBLIC on the first lookup and to INSIDE on every later one (the attacker's
    DNS with a zero TTL); other names resolve as usual. Returns the answers given, in order."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real(host, port, *args, **kwargs)
        address = PUBLIC if not answers else INSIDE
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def only_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(address) == PUBLIC


def test_a_name_rebound_after_the_check_still_reaches_only_the_checked_address(
    receivers: tuple[Receiver, Receiver, int], rebinding_dns: list[str]
) -> None:
    public, inside, port = receivers
    poster = HttpCallbackPoster(timeout=5, allow=only_public)  # the real resolver and transport
    status = poster.post(f"http://{NAME}:{port}/opendsr/cb", b"{}", {"Content-Type": "application/json"})
    assert status == 202
    assert inside.hits == []  # the inside service never heard of it
    assert public.hits == [{"host": f"{NAME}:{port}", "path": "/opendsr/cb"}]  # original Host header
    assert rebinding_dns == [PUBLIC]  # resolved once: the connection asked no second time


def test_every_post_resolves_and_checks_again(
    receivers: tuple[Receiver, Receiver, int], rebinding_dns: list[str]
) -> None:
    public, inside, port = receivers
    poster = HttpCallbackPoster(timeout=5, allow=only_public)
    assert poster.post(f"http://{NAME}:{port}/cb", b"{}", {}) == 202
    with pytest.raises(RefusedDestination):  # now the name points inside: refused, not sent
        poster.post(f"http://{NAME}:{port}/cb", b"{}", {})
    assert len(public.hits) == 1 and inside.hits == []


def test_https_keeps_the_name_for_sni_and_the_certificate_while_connecting_to_the_address() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    poster = HttpCallbackPoster(
        transport=httpx.MockTransport(handler), resolver=lambda host: ["93.184.216.34", "2606:2800:220:1::1"]
    )
    assert poster.post("https://cb.piemērs.lv/status", b"{}", {"X-Sig": "s"}) == 200
    [request] = seen
    assert request.url.host == "93.184.216.34" and request.url.path == "/status"
    assert request.headers["host"] == "cb.xn--piemrs-s3a.lv"
    assert request.extensions["sni_hostname"] == "cb.xn--piemrs-s3a.lv"
    assert request.headers["x-sig"] == "s"


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    poster = HttpCallbackPoster(resolver=lambda host: ["not-an-ip"])
    with pytest.raises(RefusedDestination):
        poster.post("https://cb.example/x", b"{}", {})
