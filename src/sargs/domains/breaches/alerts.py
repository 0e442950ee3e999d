"""Breach-deadline alerts: the DPO is e-mailed when 24 h and when 6 h remain of the 72 hours to
notify the supervisory authority (R-BRE-2; GDPR Art. 33(1)), each alert once.

Which breaches: those not closed, not yet notified to the authority, and not assessed as unlikely
to result in a risk (those need no notification). Each run sends, per breach, at most the most
urgent alert whose threshold has passed: a breach 50 hours old gets its 24-hour alert; one first
seen 70 hours old (after an outage, or registered late) gets only the 6-hour alert, which says how
little time is left, rather than a stale 24-hour one as well; one already overdue gets the 6-hour
alert saying the deadline has passed. "Once" is a `staff_alerts` key
`breach:<id>:<threshold>h:<deadline>` inserted with the e-mails, so reruns and concurrent workers
send nothing twice; a deadline that moves (aware_at corrected before filing) earns new alerts.

The e-mail names the breach by its title and id (never the people concerned), gives the time of
awareness and the deadline in the company's local time, the time left, and a console link.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sargs.core.i18n import Message
from sargs.domains.alerts.service import (
    in_languages,
    languages,
    local_time,
    local_zone,
    one_line,
    recipients,
    send_once,
)
from sargs.domains.breaches.deadlines import clock, span_text
from sargs.domains.breaches.model import Breach, BreachNotification
from sargs.domains.policy.registry import PolicyRegistry

KIND = "breach_deadline"
THRESHOLDS_HOURS: tuple[int, ...] = (24, 6)

SUBJECT = Message("breaches.alerts", "SUBJECT")
SUBJECT_OVERDUE = Message("breaches.alerts", "SUBJECT_OVERDUE")
INTRO = Message("breaches.alerts", "INTRO")
BREACH = Message("breaches.alerts", "BREACH")
AWARE = Message("breaches.alerts", "AWARE")
DEADLINE = Message("breaches.alerts", "DEADLINE")
LEFT = Message("breaches.alerts", "LEFT")
LATE = Message("breaches.alerts", "LATE")
STATUS = Message("breaches.alerts", "STATUS")
RISK = Message("breaches.alerts", "RISK")
NOT_ASSESSED = Message("breaches.alerts", "NOT_ASSESSED")
CONSOLE = Message("breaches.alerts", "CONSOLE")


def due_threshold(*, remaining: timedelta, thresholds: Sequence[int] = THRESHOLDS_HOURS) -> int | None:
    """The most urgent threshold (in hours) that `remaining` has reached, or None if none yet."""
    reached = [t for t in thresholds if remaining <= timedelta(hours=t)]
    return min(reached) if reached else None


def queue_deadline_alerts(
    *,
    session: Session,
    registry: PolicyRegistry,
    now: datetime,
    configured: Sequence[str] = (),
    console_url: str | None = None,
    thresholds: Sequence[int] = THRESHOLDS_HOURS,
) -> int:
    """Queue the due 24-hour / 6-hour deadline alerts (each once) to each company's DPO; how many alerts.

    `configured` are staff addresses as in `dsr_reminder_to` (else the DPO, else the contact e-mail);
    `console_url` (settings.public_url) adds a link to the breach's console page."""
    filed = select(BreachNotification.id).where(BreachNotification.breach_id == Breach.id).exists()
    rows = session.scalars(
        select(Breach)
        .where(
            Breach.status.in_(("open", "assessed")),
            or_(Breach.risk.is_(None), Breach.risk != "none"),
            ~filed,
            Breach.controller.in_(registry.controller_ids),
        )
        .order_by(Breach.aware_at, Breach.id)
    ).all()
    queued = 0
    for row in rows:
        hours = registry.policy_for(row.controller).deadlines.breach_notification_hours
        state = clock(aware_at=row.aware_at, hours=hours, now=now, risk=row.risk, first_filed_at=None)
        threshold = due_threshold(remaining=timedelta(seconds=state.remaining_seconds), thresholds=thresholds)
        if threshold is None:
            continue
        controller = registry.controller(row.controller)
        to = recipients(controller, configured)
        if not to:
            continue
        language = registry.policy_for(row.controller).policy.default_language
        zone = local_zone(controller)
        overdue = state.remaining_seconds < 0
        fields = {
            "title": one_line(row.title),
            "name": controller.short_name,
            "left": span_text(state.remaining_seconds),
            "hours": hours,
        }
        parts = []
        for lang in languages(language):
            lines = [
                INTRO[lang].format(**fields),
                "",
                f"{BREACH[lang]}: {fields['title']} ({row.id})",
                f"{AWARE[lang]}: {local_time(row.aware_at, zone)}",
                f"{DEADLINE[lang]}: {local_time(state.due_at, zone)}",
                f"{(LATE if overdue else LEFT)[lang]}: {fields['left']}",
                f"{STATUS[lang]}: {row.status}; {RISK[lang]}: {row.risk or NOT_ASSESSED[lang]}",
            ]
            if console_url:
                lines.append(f"{CONSOLE[lang]}: {console_url.rstrip('/')}/console/breaches/{row.id}")
            parts.append("\n".join(lines))
        subject = (SUBJECT_OVERDUE if overdue else SUBJECT)[language].format(**fields)
        key = f"breach:{row.id}:{threshold}h:{state.due_at:%Y%m%dT%H%MZ}"
        if send_once(
            session=session,
            key=key,
            kind=KIND,
            to=to,
            subject=subject,
            text=in_languages(parts),
            now=now,
            controller=row.controller,
        ):
            queued += 1
    return queued
