"""An SmsSender for an HTTP SMS gateway: one JSON POST per message.

Request: `POST {url}` with `Authorization: Bearer {token}`, `Idempotency-Key: {outbox id}` and
`{"to": "+371...", "from": "29307777", "text": "...", "reference": "<outbox id>"}`.
Answer: 2xx with `{"id": "<provider message id>"}` (or `message_id`/`sid`). A timeout, a
connection error, 408, 429 and 5xx are transient (the outbox retries with backoff); any other
4xx, and any other non-2xx answer, is permanent. The idempotency key makes a retry after a crash one message, not two.
"""

from __future__ import annotations

import re

import httpx

from sargs.domains.sms.ports import PermanentSendError, TransientSendError

TRANSIENT_STATUSES = frozenset({408, 425, 429})
_NUMBER = re.compile(r"\+?\d[\d ()-]{5,}\d")


def _without_numbers(text: str) -> str:
    """A provider's error text, shortened, with anything like a phone number blanked out."""
    return _NUMBER.sub("[number]", text[:200])


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
            raise PermanentSendError(
                f"provider refused the message: {status} {_without_numbers(response.text)}"
            )
        if not 200 <= status < 300:  # a redirect or the like: nothing was accepted
            raise PermanentSendError(f"provider answered {status}: check SARGS_SMS_PROVIDER_URL")
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
