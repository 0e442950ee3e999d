"""The e-mail outbox as a port: notices queue e-mail in the caller's transaction, like SMS."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class MailQueue(Protocol):
    """Queues one e-mail in the caller's transaction; returns the outbox id. Kinds: breach, notice."""

    def enqueue(
        self,
        *,
        session: Session,
        to: str,
        subject: str,
        text: str,
        headers: dict[str, str],
        kind: str,
        now: datetime,
        subject_id: str | None = None,
    ) -> str: ...
