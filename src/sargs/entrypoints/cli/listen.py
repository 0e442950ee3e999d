"""The server's listening socket, bound before anything says "serving on …": a busy port or an
address this machine does not have is one clear line, at once."""

from __future__ import annotations

import socket

from sargs.entrypoints.cli.output import fail


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening (uvicorn serves on it); exit with one line if it cannot."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host)") from None
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as uvicorn does: TIME_WAIT is no obstacle
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        hint = "; choose another with --port" if exc.errno in (98, 48, 10048) else ""  # EADDRINUSE
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.set_inheritable(True)
    return sock


def probe(host: str, port: int) -> None:
    """Check that host:port can be bound, and free it again (for `serve --workers N`, whose
    processes bind it themselves)."""
    bind(host, port).close()
