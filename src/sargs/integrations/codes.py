"""The portal's CodeSender port, built from an SMS sender and a mailer."""

from __future__ import annotations

import logging
from typing import Protocol

from sargs.domains.subjects.identifiers import mask

log = logging.getLogger("sargs.codes")


class SendsSms(Protocol):
    def send(self, to: str, text: str) -> None: ...


class SendsMail(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class ChannelCodeSender:
    """Codes by SMS through `sms`, by e-mail through `mailer` (None: e-mail codes are only logged)."""

    def __init__(self, *, sms: SendsSms, mailer: SendsMail | None, show_text: bool = False) -> None:
        self.sms, self.mailer, self.show_text = sms, mailer, show_text

    def send_sms(self, to: str, text: str) -> None:
        self.sms.send(to, text)

    def send_email(self, to: str, subject: str, text: str) -> None:
        if self.mailer is None:
            log.warning(
                "e-mail not sent (SARGS_SMTP_HOST is not set)",
                extra={"to": mask("email", to), "text": text if self.show_text else "(hidden)"},
            )
            return
        self.mailer.send(to, subject, text)
