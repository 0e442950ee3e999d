"""What the SMS domain needs from outside the process: a way to hand a text to a provider."""

from __future__ import annotations

from typing import Protocol


class SendError(Exception):
    """The provider did not take the message."""


class TransientSendError(SendError):
    """Worth retrying later (timeout, connection refused, 429, 5xx)."""


class PermanentSendError(SendError):
    """Retrying will not help (invalid number, rejected content, 4xx)."""


class SmsSender(Protocol):
    """Implementations: console (demo), HTTP provider adapter, fakes in tests.

    `reference` is the outbox id; adapters pass it to the provider as an idempotency key so a
    message re-sent after a crash between "provider accepted" and "marked sent" is sent once.
    Returns the provider's message id.
    """

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str: ...
