"""An SmsSender for an HTTP SMS gateway: one JSON POST per message.

Request: `POST {url}` with `Authorization: Bearer {token}`, `Idempotency-Key: {outbox id}` and
`{"to": "+371...", "from": "29307777", "text": "...", "reference": "<outbox id>"}`.
Answer: 2xx with `{"id": "<provider message id>"}` (or `message_id`/`sid`). A timeout, a
connection error, 408, 429 and 5xx are transient (the outbox retries with backoff); any other
4xx is permanent. The idempotency key makes a retry after a crash one message, not two.
"""

from __future__ import annotations

import httpx

from sargs.domains.sms.ports import PermanentSendError, TransientSendError

TRANSIENT_STATUSES = frozenset({408, 425, 429})


class HttpSmsSender:
    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        try:
            response = self.client.post(
                self.url,
                json={"to": to, "from": sender, "text": text, "reference": reference},
                headers={"Idempotency-Key": reference},
            )
        except httpx.TimeoutException as exc:
            raise TransientSendError(f"provider timed out: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise TransientSendError(f"provider unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status >= 500 or status in TRANSIENT_STATUSES:
            raise TransientSendError(f"provider answered {status}")
        if status >= 400:
            raise PermanentSendError(f"provider refused the message: {status} {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        provider_id = next(
            (str(body[k]) for k in ("id", "message_id", "sid") if isinstance(body, dict) and body.get(k)),
            reference,
        )
        return provider_id

    def close(self) -> None:
        self.client.close()
