"""The demo's SMS "provider": prints each text (number masked) instead of sending it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sargs.core.ids import new_id
from sargs.domains.subjects.identifiers import mask

log = logging.getLogger("sargs.sms.console")


class ConsoleSmsSender:
    """An SmsSender that writes to `emit` (stdout by default) and logs without the text."""

    def __init__(self, *, emit: Callable[[str], object] = print) -> None:
        self.emit = emit

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        self.emit(f"SMS to {mask('msisdn', to)} from {sender or '-'}: {text}")
        log.info("SMS printed by the console sender", extra={"outbox_id": reference})
        return f"console-{new_id()}"
