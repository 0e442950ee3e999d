"""The periodic policy review reminder (R-POL-3, R 7.1), e-mailed to each company's DPO.

A policy file is reviewed at least every `review_interval_months` after it was published
(`PolicyRegistry.review_reminders`). Each company the policy declares hears of it: once when the
review is 30 days away, once on the due date, then once a week while it stays overdue (a new
policy version, with its new publication date, ends the reminders). "Once" is a `staff_alerts`
key `policy-review:<policy>:<version>:<due>:<controller>:<step>` inserted with the e-mail, so the
daily job can run any number of times, in several workers, without sending a reminder twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from sargs.core.i18n import Message
from sargs.domains.alerts.service import in_languages, languages, local_zone, recipients, send_once
from sargs.domains.policy.registry import PolicyRegistry, ReviewReminder

KIND = "policy_review"
AHEAD = timedelta(days=30)
REPEAT = timedelta(days=7)

SUBJECT_SOON = Message("policy.reviews", "SUBJECT_SOON")
SUBJECT_OVERDUE = Message("policy.reviews", "SUBJECT_OVERDUE")
INTRO = Message("policy.reviews", "INTRO")
POLICY = Message("policy.reviews", "POLICY")
VERSION = Message("policy.reviews", "VERSION")
PUBLISHED = Message("policy.reviews", "PUBLISHED")
DUE = Message("policy.reviews", "DUE")
LATE = Message("policy.reviews", "LATE")
NEXT = Message("policy.reviews", "NEXT")
CONSOLE = Message("policy.reviews", "CONSOLE")


def reminder_step(
    *, today: date, due: date, ahead: timedelta = AHEAD, repeat: timedelta = REPEAT
) -> str | None:
    """Which reminder is due today: 'soon' (within `ahead`), 'due-0', 'due-1', … (one per `repeat`
    since the due date), or None (not yet)."""
    if today >= due:
        return f"due-{(today - due) // repeat}"
    if today >= due - ahead:
        return "soon"
    return None


def queue_review_reminders(
    *,
    session: Session,
    registry: PolicyRegistry,
    now: datetime,
    today: date | None = None,
    configured: Sequence[str] = (),
    console_url: str | None = None,
    ahead: timedelta = AHEAD,
    repeat: timedelta = REPEAT,
) -> int:
    """E-mail each company's DPO of its policy's due or overdue review, each step once; how many
    reminders were queued (one per company and step). `today` defaults to the company's local date."""
    queued = 0
    reviews: dict[str, ReviewReminder] = {
        r.policy_id: r for r in registry.review_reminders(today=today or now.date())
    }
    for policy in registry.policies:
        review = reviews[policy.id]
        for controller in policy.controllers:
            day = today or now.astimezone(local_zone(controller)).date()
            step = reminder_step(today=day, due=review.due, ahead=ahead, repeat=repeat)
            if step is None:
                continue
            to = recipients(controller, configured)
            language = policy.policy.default_language
            overdue = day >= review.due
            fields = {
                "policy": policy.id,
                "due": review.due.isoformat(),
                "name": controller.short_name,
                "months": policy.policy.review_interval_months,
            }
            parts = []
            for lang in languages(language):
                lines = [
                    INTRO[lang].format(**fields),
                    "",
                    f"{POLICY[lang]}: {policy.id}",
                    f"{VERSION[lang]}: {review.version}",
                    f"{PUBLISHED[lang]}: {review.published.isoformat()}",
                    f"{DUE[lang]}: {review.due.isoformat()}",
                ]
                if overdue:
                    lines.append(f"{LATE[lang]}: {(day - review.due).days}")
                lines += ["", NEXT[lang]]
                if console_url:
                    lines.append(f"{CONSOLE[lang]}: {console_url.rstrip('/')}/console/")
                parts.append("\n".join(lines))
            if send_once(
                session=session,
                key=f"policy-review:{policy.id}:{review.version}:{review.due.isoformat()}:{controller.id}:{step}",
                kind=KIND,
                to=to,
                subject=(SUBJECT_OVERDUE if overdue else SUBJECT_SOON)[language].format(**fields),
                text=in_languages(parts),
                now=now,
                controller=controller.id,
            ):
                queued += 1
    return queued
