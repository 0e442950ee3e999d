"""Posting OpenDSR status callbacks over HTTP (httpx), only to public addresses."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx


class RefusedDestination(Exception):
    """The callback's host resolves to an address Sargs must not post to (loopback, private, ...)."""


def system_resolver(host: str) -> list[str]:
    """Every address the host name resolves to."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})


class HttpCallbackPoster:
    """Posts a callback after checking that every address its host resolves to is public, so a name
    pointing inwards (e.g. at 127.0.0.1 or a cloud metadata address) is refused at delivery time."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        resolver: Callable[[str], list[str]] = system_resolver,
    ) -> None:
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)
        self.resolve = resolver

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        host = urlsplit(url).hostname or ""
        addresses = self.resolve(host)
        if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
            raise RefusedDestination(host)
        return self.client.post(url, content=body, headers=headers).status_code
