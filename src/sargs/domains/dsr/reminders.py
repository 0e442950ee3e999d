"""The daily reminder's e-mail: one digest per company of its requests due soon or overdue.

The digest names requests by id, kind and due date only (no requester data); it goes to the
configured staff addresses, else the company's DPO, else its contact address from the policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sargs.domains.alerts.service import in_languages, languages, recipients
from sargs.domains.dsr.service import Reminder
from sargs.domains.mail import outbox
from sargs.domains.policy.registry import PolicyRegistry

SUBJECT = {
    "lv": "Sargs: datu subjektu pieprasījumi — {overdue} nokavēti, {soon} drīz jāatbild ({name})",
    "en": "Sargs: rights requests — {overdue} overdue, {soon} due soon ({name})",
}
INTRO = {
    "lv": "{name}: šiem datu subjektu pieprasījumiem drīz beigsies vai jau beidzies atbildes termiņš.",
    "en": "{name}: these rights requests are due soon or overdue.",
}
OVERDUE = {"lv": "NOKAVĒTS", "en": "OVERDUE"}
DUE = {"lv": "termiņš", "en": "due"}


@dataclass(frozen=True)
class Digest:
    controller: str
    to: tuple[str, ...]
    subject: str
    text: str


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
