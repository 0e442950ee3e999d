"""Driving an ASGI app by hand, message by message (for what a TestClient hides: how much of a
request body is read, and when each response chunk leaves)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Message = dict[str, Any]


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


def run_asgi(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
    *,
    timeout: float = 30,
) -> None:
    """Run one request to the end on a fresh event loop in its own thread (another test's loop,
    e.g. playwright's, may be running in this one)."""

    def run() -> None:
        asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=timeout))

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()
