"""The daily reminder's e-mail: one digest per company of its requests due soon or overdue.

The digest names requests by id, kind and due date only (no requester data); it goes to the
configured staff addresses, else the company's DPO, else its contact address from the policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sargs.core.i18n import Message
from sargs.domains.alerts.service import in_languages, languages, recipients
from sargs.domains.dsr import workflow as wf
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import EVENTS
from sargs.domains.mail import outbox
from sargs.domains.policy.registry import PolicyRegistry

SUBJECT = Message("dsr.reminders", "SUBJECT")
INTRO = Message("dsr.reminders", "INTRO")
OVERDUE = Message("dsr.reminders", "OVERDUE")
DUE = Message("dsr.reminders", "DUE")


@dataclass(frozen=True)
class Digest:
    controller: str
    to: tuple[str, ...]
    subject: str
    text: str


@dataclass(frozen=True)
class Reminder:
    request_id: str
    controller: str
    kind: str
    status: str
    due_at: datetime
    overdue: bool


def remind(*, session: Session, now: datetime, within: timedelta = timedelta(days=7)) -> list[Reminder]:
    """The daily reminder job: open requests due within `within` or overdue, each at most once a
    day (a second run on the same day finds nothing new)."""
    today = now.date().isoformat()
    not_today = (DsrRequest.reminded_on.is_(None)) | (DsrRequest.reminded_on != today)
    # Core rows, locked (PostgreSQL: another run skips them); claimed in bulk; one trail row each.
    due = session.execute(
        select(DsrRequest.id, DsrRequest.controller, DsrRequest.kind, DsrRequest.status, DsrRequest.due_at)
        .where(DsrRequest.status.in_(wf.OPEN), DsrRequest.due_at <= now + within, not_today)
        .order_by(DsrRequest.due_at)
        .with_for_update(skip_locked=True)
    ).all()
    out: list[Reminder] = []
    for k in range(0, len(due), 1000):
        chunk = due[k : k + 1000]
        session.execute(
            update(DsrRequest)
            .where(DsrRequest.id.in_([r.id for r in chunk]), not_today)
            .values(reminded_on=today)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(EVENTS),
            [
                {
                    "request_id": r.id,
                    "at": now,
                    "actor_kind": "system",
                    "actor_id": None,
                    "action": "reminded",
                    "from_status": r.status,
                    "to_status": r.status,
                    "reason": None,
                    "data": {"overdue": r.due_at < now},
                }
                for r in chunk
            ],
        )
        out.extend(Reminder(r.id, r.controller, r.kind, r.status, r.due_at, r.due_at < now) for r in chunk)
    return out


def digests(
    *,
    reminders: Sequence[Reminder],
    registry: PolicyRegistry,
    configured: Sequence[str] = (),
    console_url: str | None = None,
) -> list[Digest]:
    """One digest per company with reminders: overdue first, then by due date; lv then en."""
    by_controller: dict[str, list[Reminder]] = defaultdict(list)
    for r in reminders:
        by_controller[r.controller].append(r)
    out = []
    for controller_id, items in sorted(by_controller.items()):
        controller = registry.controller(controller_id)
        language = registry.policy_for(controller_id).policy.default_language
        items.sort(key=lambda r: (not r.overdue, r.due_at))
        overdue = sum(r.overdue for r in items)
        counts = {"overdue": overdue, "soon": len(items) - overdue, "name": controller.short_name}
        parts = []
        for lang in languages(language):
            lines = [INTRO[lang].format(**counts), ""]
            for r in items:
                mark = OVERDUE[lang] if r.overdue else DUE[lang]
                link = f"  {console_url.rstrip('/')}/console/dsr/{r.request_id}" if console_url else ""
                lines.append(
                    f"- {r.request_id} {r.kind} ({r.status}) {mark} {r.due_at:%Y-%m-%d %H:%M} UTC{link}"
                )
            parts.append("\n".join(lines))
        out.append(
            Digest(
                controller=controller_id,
                to=recipients(controller, configured),
                subject=SUBJECT[language].format(**counts),
                text=in_languages(parts),
            )
        )
    return out


def queue_digests(*, session: Session, digests: Sequence[Digest], now: datetime) -> int:
    """Queue each digest to each of its recipients in the caller's transaction; returns how many."""
    queued = 0
    for digest in digests:
        for to in digest.to:
            outbox.enqueue(
                session=session,
                to=to,
                subject=digest.subject,
                text=digest.text,
                kind="notice",
                now=now,
                controller=digest.controller,
            )
            queued += 1
    return queued
