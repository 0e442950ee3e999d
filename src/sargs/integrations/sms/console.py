"""An SMS "sender" that only logs (number masked). Used until the SMS outbox is wired in.

TODO(merge with issue 3): replace with the SMS outbox (domains/sms) and its SmsSender port.
"""

from __future__ import annotations

import logging

from sargs.domains.subjects.identifiers import mask

log = logging.getLogger("sargs.sms.console")


class LoggingSmsSender:
    def __init__(self, *, show_text: bool = False) -> None:
        self.show_text = show_text  # demo only: lets a person at the demo read their code

    def send(self, to: str, text: str) -> None:
        log.warning(
            "SMS not sent (no SMS provider wired)",
            extra={"to": mask("msisdn", to), "text": text if self.show_text else "(hidden)"},
        )
