"""Telling people about a new policy version (retailer policy 7.2), once per person and version.

Everyone Sargs holds for one of the policy's controllers (their client-group members) gets one
short SMS (or an e-mail when Sargs has no phone number) naming the version and where to read it.
Batches commit on their own; a re-run after a crash skips whoever was already told.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.ids import new_id
from sargs.domains.notices.contacts import reach_subjects
from sargs.domains.notices.once import insert_new
from sargs.domains.notices.ports import MailQueue
from sargs.domains.notices.report import NoticeReport
from sargs.domains.policy.notice_model import PolicyNotice
from sargs.domains.policy.schema import Policy
from sargs.domains.sms import outbox
from sargs.domains.subjects.model import SubjectGroup

BATCH = 500


def notice_texts(*, policy: Policy, controller_id: str) -> tuple[str, str, str]:
    """(SMS, e-mail subject, e-mail text) in the policy's language, the e-mail with English after it."""
    controller = policy.controller(controller_id)
    assert controller is not None
    url = controller.privacy_policy_url or policy.policy.url or controller.contact.url or ""
    version, published = policy.version, policy.policy.published.isoformat()
    lv = f"{controller.short_name}: privātuma politika atjaunota (versija {version}, {published}). Lasiet: {url}".strip()
    en = f"{controller.short_name}: our privacy policy was updated (version {version}, {published}). Read it: {url}".strip()
    first, second = (en, lv) if policy.policy.default_language == "en" else (lv, en)
    subject = f"{controller.short_name}: privātuma politika / privacy policy {version}"
    return first, subject, f"{first}\n\n---\n\n{second}\n"


def _page(session: Session, *, controllers: list[str], after: str, limit: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(SubjectGroup.subject_id, func.min(SubjectGroup.controller))
        .where(SubjectGroup.controller.in_(controllers), SubjectGroup.subject_id > after)
        .group_by(SubjectGroup.subject_id)
        .order_by(SubjectGroup.subject_id)
        .limit(limit)
    )
    return [(sid, controller) for sid, controller in rows]


def notify_policy_version(
    *,
    sessions: sessionmaker[Session],
    policy: Policy,
    secret: bytes,
    now: Callable[[], datetime],
    mail: MailQueue | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> NoticeReport:
    """Queue the notice of `policy`'s version to each of its controllers' people who was not yet told."""
    report = NoticeReport()
    controllers = [c.id for c in policy.controllers]
    texts = {c: notice_texts(policy=policy, controller_id=c) for c in controllers}
    after = ""
    while True:
        with sessions.begin() as session:
            page = _page(session, controllers=controllers, after=after, limit=batch)
            if not page:
                break
            ids = [sid for sid, _ in page]
            controller_of = dict(page)
            at = now()
            reaches = {
                r.subject_id: r for r in reach_subjects(session=session, subject_ids=ids, secret=secret)
            }
            planned: list[dict[str, object]] = []
            for sid in ids:
                reach = reaches[sid]
                if reach.channel == "email" and reach.address and mail is None:
                    report.email_unavailable += 1
                    continue
                reachable = reach.channel in ("sms", "email") and bool(reach.address)
                planned.append(
                    {
                        "policy_id": policy.id,
                        "version": policy.version,
                        "subject_id": sid,
                        "channel": reach.channel if reachable else "none",
                        "outbox_id": new_id() if reachable and reach.channel == "sms" else None,
                        "queued_at": at,
                    }
                )
            new = insert_new(
                session,
                table(PolicyNotice),
                planned,
                unique=("policy_id", "version", "subject_id"),
                key="subject_id",
            )
            texted: dict[str, list[tuple[str, str, str]]] = {}  # controller -> (outbox id, number, subject)
            notices = table(PolicyNotice)
            for row in planned:
                sid = str(row["subject_id"])
                if sid not in new:
                    report.already += 1
                    continue
                reach = reaches[sid]
                _, subject, text = texts[controller_of[sid]]
                if row["channel"] == "sms" and reach.address:
                    texted.setdefault(controller_of[sid], []).append(
                        (str(row["outbox_id"]), reach.address, sid)
                    )
                    report.sms += 1
                elif row["channel"] == "email" and mail is not None and reach.address:
                    outbox_id = mail.enqueue(
                        session=session,
                        to=reach.address,
                        subject=subject,
                        text=text,
                        headers={"X-Sargs-Policy": f"{policy.id} {policy.version}"},
                        kind="notice",
                        now=at,
                        subject_id=sid,
                    )
                    session.execute(
                        update(notices)
                        .where(
                            notices.c.policy_id == policy.id,
                            notices.c.version == policy.version,
                            notices.c.subject_id == sid,
                        )
                        .values(outbox_id=outbox_id)
                    )
                    report.email += 1
                else:
                    report.unreachable += 1
            for controller, items in texted.items():
                outbox.enqueue_many(
                    session=session,
                    recipients=[(number, sid) for _, number, sid in items],
                    text=texts[controller][0],
                    kind="notice",
                    now=at,
                    ids=[outbox_id for outbox_id, _, _ in items],
                )
        after = page[-1][0]
        report.batches += 1
        if progress is not None:
            progress(report.seen)
    return report


def notices_sent(*, session: Session, policy_id: str, version: str) -> int:
    """How many people were told about this version."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(PolicyNotice)
            .where(
                PolicyNotice.policy_id == policy_id,
                PolicyNotice.version == version,
                PolicyNotice.outbox_id.is_not(None),
            )
        )
        or 0
    )


def review_due(*, published: date, months: int) -> date:
    """The date a policy published on `published` is due for review every `months` months."""
    total = published.month - 1 + months
    return date(published.year + total // 12, total % 12 + 1, min(published.day, 28))
