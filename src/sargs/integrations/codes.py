"""The portal's CodeSender port: SMS codes through the SMS outbox, e-mail codes over SMTP."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.orm import Session

from sargs.core.clock import Clock
from sargs.domains.sms.outbox import enqueue
from sargs.domains.subjects.identifiers import mask

log = logging.getLogger("sargs.codes")


class SendsMail(Protocol):
    def send(self, to: str, subject: str, text: str) -> None: ...


class ChannelCodeSender:
    """Codes by SMS into the outbox (sent by `sargs sms send`), by e-mail through `mailer`
    (None: e-mail codes are only logged, the text shown only when `show_text`, i.e. the demo)."""

    def __init__(self, *, clock: Clock, mailer: SendsMail | None, show_text: bool = False) -> None:
        self.clock, self.mailer, self.show_text = clock, mailer, show_text

    def send_sms(self, to: str, text: str, *, session: Session) -> None:
        enqueue(session=session, to=to, text=text, kind="code", now=self.clock.now())

    def send_email(self, to: str, subject: str, text: str) -> None:
        if self.mailer is None:
            log.warning(
                "e-mail not sent (SARGS_SMTP_HOST is not set)",
                extra={"to": mask("email", to), "text": text if self.show_text else "(hidden)"},
            )
            return
        self.mailer.send(to, subject, text)
