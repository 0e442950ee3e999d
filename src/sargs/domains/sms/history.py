"""A subject's keyword messages, what came of each, and the replies (the operator's view)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.domains.sms.model import SmsInbound, SmsOutbox

MAX_MESSAGES = 200


@dataclass(frozen=True)
class ReplyView:
    id: str
    text: str
    status: str
    attempts: int
    segments: int
    encoding: str
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class MessageView:
    id: str
    received_at: datetime
    controller: str
    to: str
    text: str
    command: str
    keyword: str | None
    outcome: str
    detail: str | None
    event_ids: list[str]
    reply: ReplyView | None


def messages_of(
    *,
    session: Session,
    subject_id: str,
    controllers: Collection[str] | None = None,
    limit: int = MAX_MESSAGES,
) -> list[MessageView]:
    """Newest first; only messages to numbers of `controllers` when given."""
    stmt = (
        select(SmsInbound, SmsOutbox)
        .outerjoin(SmsOutbox, SmsOutbox.id == SmsInbound.reply_id)
        .where(SmsInbound.subject_id == subject_id)
        .order_by(SmsInbound.received_at.desc(), SmsInbound.id)
        .limit(min(limit, MAX_MESSAGES))
    )
    if controllers is not None:
        stmt = stmt.where(SmsInbound.controller.in_(list(controllers)))
    out = []
    for inbound, reply in session.execute(stmt).all():
        out.append(
            MessageView(
                id=inbound.id,
                received_at=inbound.received_at,
                controller=inbound.controller,
                to=inbound.to_number,
                text=inbound.text,
                command=inbound.command,
                keyword=inbound.keyword,
                outcome=inbound.outcome,
                detail=inbound.detail,
                event_ids=list(inbound.event_ids or []),
                reply=None
                if reply is None
                else ReplyView(
                    id=reply.id,
                    text=reply.text,
                    status=reply.status,
                    attempts=reply.attempts,
                    segments=reply.segments,
                    encoding=reply.encoding,
                    sent_at=reply.sent_at,
                    last_error=reply.last_error,
                ),
            )
        )
    return out
