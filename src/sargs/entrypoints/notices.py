"""What breach and policy notices need from the rest of the system.

E-mail goes into the e-mail outbox (`sargs.domains.mail.outbox`, delivered by `sargs mail send`);
data sources come from `Container.sources`; one that is not configured is skipped and named.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sargs.domains.mail import outbox
from sargs.domains.notices.ports import MailQueue
from sargs.domains.sources.ports import ConnectorFactory
from sargs.entrypoints.container import Container


class OutboxMailQueue:
    """The e-mail outbox's `enqueue`, behind the MailQueue port."""

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
        return outbox.enqueue(
            session=session,
            to=to,
            subject=subject,
            text=text,
            headers=headers,
            kind=kind,
            now=now,
            subject_id=subject_id,
        )


def mail_queue(container: Container) -> MailQueue:
    """The e-mail outbox."""
    return OutboxMailQueue()


def source_connectors(container: Container) -> ConnectorFactory:
    """The data-source connectors (`Container.sources`; unreachable sources raise ConfigurationError)."""
    return container.sources


def notice_secret(container: Container) -> bytes:
    """The key of the hashes that name people in notice tables."""
    return ("notice:" + container.settings.secret_key).encode()
