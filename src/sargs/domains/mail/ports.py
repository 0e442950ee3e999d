"""What the mail domain needs from outside the process: a way to hand a message to a mail server."""

from __future__ import annotations

from typing import Protocol


class MailSendError(Exception):
    """The mail server did not take the message."""


class TransientMailError(MailSendError):
    """Worth retrying later (connection refused, timeout, 4xx reply)."""


class PermanentMailError(MailSendError):
    """Retrying will not help (5xx reply: no such mailbox, rejected content)."""


class MailSender(Protocol):
    """Implementations: SMTP (integrations.mail.smtp.SmtpMailer), fakes in tests.

    `headers` are extra headers (List-Unsubscribe...); `reference` is the outbox id. Returns the
    Message-ID given to the message.
    """

    def deliver(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        headers: dict[str, str],
        reference: str,
    ) -> str: ...
