"""Delivering ledger anchors to an HTTP endpoint (httpx): POST the signed JSON record."""

from __future__ import annotations

import httpx

from sargs.domains.consent.anchors import AnchorFailed


class HttpAnchorSink:
    """POSTs each anchor as `application/json` to one URL; any answer but 2xx is a failed delivery
    (the anchor stays pending and is sent again on the next run)."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def __call__(self, line: str) -> None:
        try:
            answer = self.client.post(
                self.url, content=line.encode(), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise AnchorFailed(f"{type(exc).__name__} posting to the anchor endpoint") from None
        if not 200 <= answer.status_code < 300:
            raise AnchorFailed(f"the anchor endpoint answered {answer.status_code}")

    def close(self) -> None:
        self.client.close()
