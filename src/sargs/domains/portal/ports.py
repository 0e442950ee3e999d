"""What the portal needs from outside the process: a way to deliver a code."""

from __future__ import annotations

from typing import Protocol


class CodeSender(Protocol):
    """Delivers one-time codes. Implementations: SMTP + SMS (bootstrap), fakes in tests.

    TODO(merge with issue 3): send_sms should write to the SMS outbox (domains/sms) so a code
    is delivered by the same sender, with the same retries, as keyword replies.
    """

    def send_sms(self, to: str, text: str) -> None: ...

    def send_email(self, to: str, subject: str, text: str) -> None: ...
