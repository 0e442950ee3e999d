"""Posting OpenDSR status callbacks over HTTP (httpx)."""

from __future__ import annotations

import httpx


class HttpCallbackPoster:
    def __init__(self, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return self.client.post(url, content=body, headers=headers).status_code
