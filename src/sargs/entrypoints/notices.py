"""What breach and policy notices need from the rest of the system, found where it lives.

The e-mail outbox (`sargs.domains.mail.outbox`, issue 7) is built alongside this code and used
when present; without it, people reachable only by e-mail are reported and left for a later run.
Data sources come from `Container.sources`; one that is not configured is skipped and named.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sargs.domains.notices.ports import MailQueue
from sargs.domains.sources.ports import ConnectorFactory
from sargs.entrypoints.container import Container


class OutboxMailQueue:
    """The e-mail outbox's `enqueue`, behind the MailQueue port."""

    def __init__(self, enqueue: Callable[..., Any]) -> None:
        self._enqueue = enqueue

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
    ) -> str:
        queued = self._enqueue(
            session=session,
            to=to,
            subject=subject,
            text=text,
            headers=headers,
            kind=kind,
            now=now,
            subject_id=subject_id,
        )
        return str(getattr(queued, "id", queued))


def mail_queue(container: Container) -> MailQueue | None:
    """The e-mail outbox when this installation has one, else None."""
    try:
        module = importlib.import_module("sargs.domains.mail.outbox")
    except ImportError:
        return None
    enqueue = getattr(module, "enqueue", None)
    return OutboxMailQueue(enqueue) if callable(enqueue) else None


def source_connectors(container: Container) -> ConnectorFactory:
    """The data-source connectors (`Container.sources`; unreachable sources raise ConfigurationError)."""
    return container.sources


def notice_secret(container: Container) -> bytes:
    """The key of the hashes that name people in notice tables."""
    return ("notice:" + container.settings.secret_key).encode()
