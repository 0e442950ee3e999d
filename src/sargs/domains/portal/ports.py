"""What the portal needs from outside the process: a way to deliver a code."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session


class CodeSender(Protocol):
    """Delivers one-time codes. Implementations: the SMS outbox + SMTP (bootstrap), fakes in tests.

    `send_sms` gets the caller's session: the wired implementation queues the text in the SMS
    outbox in the same transaction as the code, so the code and its message land together and
    go out through the same sender, with the same retries, as keyword replies.
    """

    def send_sms(self, to: str, text: str, *, session: Session) -> None: ...

    def send_email(self, to: str, subject: str, text: str) -> None: ...
