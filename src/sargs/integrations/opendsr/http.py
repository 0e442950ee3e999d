"""Posting OpenDSR status callbacks over HTTP (httpx), only to public addresses.

The host is resolved once; every address it resolves to must be public, and the connection then
goes to one of those checked addresses (the URL's host is replaced by the address, the `Host`
header and the TLS server name stay the original name, so the certificate is still checked for
it). A name that answers a public address to the check and an inside one to the connection (DNS
rebinding) therefore cannot steer a callback inwards. Connections are not reused, so one name's
TLS session never carries another name's callback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(Exception):
    """The callback's host resolves to an address Sargs must not post to (loopback, private, ...)."""


def system_resolver(host: str) -> list[str]:
    """Every address the host name resolves to."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)})


def is_public(address: IPAddress) -> bool:
    """Globally routable (not loopback, private, link-local, shared, reserved or documentation)."""
    return address.is_global


class HttpCallbackPoster:
    """Posts a callback after checking that every address its host resolves to is public, and
    connects only to an address so checked (see the module docstring)."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        resolver: Callable[[str], list[str]] = system_resolver,
        allow: Callable[[IPAddress], bool] = is_public,
    ) -> None:
        self.client = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.resolve = resolver
        self.allow = allow

    def checked_addresses(self, host: str) -> list[str]:
        """The host's addresses, resolved once; RefusedDestination unless every one is allowed."""
        addresses = self.resolve(host)
        try:
            parsed = [ipaddress.ip_address(a.split("%")[0]) for a in addresses]
        except ValueError:
            raise RefusedDestination(host) from None
        if not parsed or not all(self.allow(a) for a in parsed):
            raise RefusedDestination(host)
        return [str(a) for a in parsed]

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")  # an IDN name in its ASCII (punycode) form
        last: httpx.TransportError | None = None
        for address in self.checked_addresses(host):
            pinned = target.copy_with(host=address)
            sent = {**headers, "Host": target.netloc.decode("ascii")}
            extensions = {"sni_hostname": host} if target.scheme == "https" else {}
            try:
                return self.client.post(pinned, content=body, headers=sent, extensions=extensions).status_code
            except httpx.ConnectError as exc:  # that address is down: try the next checked one
                last = exc
        assert last is not None
        raise last
