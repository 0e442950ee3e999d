"""What fulfilling a request leaves to follow up (GDPR Art. 19; retailer 2.2):

- every recipient (a policy processor) that the policy links to the request's purposes or data
  categories is told of an erasure, rectification or restriction by e-mail, queued in the mail
  outbox in the transaction that fulfils the request, and tracked until it confirms (a signed,
  expiring link) or staff mark it told;
- a `manual` data source (a paper archive, a system with no API) gets a task with a due date for
  its named staff member, and the request completes only when its tasks are done.

A notice holds only what the recipient needs: the request's reference, the identifiers the policy
says the recipient holds (`identifies_by`), the action and the data categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.errors import Conflict, InvalidInput, NotFound
from sargs.core.i18n import Message
from sargs.core.ids import new_id
from sargs.domains.dsr.followup_model import DsrRecipientNotice, DsrTask
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.mail import links
from sargs.domains.mail import outbox as mail_outbox
from sargs.domains.policy.schema import Policy, Processor
from sargs.domains.policy.sources import DataSource
from sargs.domains.ropa.processors import processors_of

TOLD_KINDS = ("erasure", "rectification", "restriction")
ACTION = {
    "erasure": {"lv": "personas datu dzēšana", "en": "erasure of personal data"},
    "rectification": {"lv": "personas datu labošana", "en": "rectification of personal data"},
    "restriction": {"lv": "apstrādes ierobežošana", "en": "restriction of processing"},
}
NOTICE_SUBJECT = Message("dsr.followups", "NOTICE_SUBJECT")
NOTICE_TEXT = Message("dsr.followups", "NOTICE_TEXT")
IDS_LINE = Message("dsr.followups", "IDS_LINE")
RECTIFIED_NOTE = Message("dsr.followups", "RECTIFIED_NOTE")
CONFIRM_TTL = timedelta(days=30)


@dataclass(frozen=True)
class ConfirmLinks:
    """How confirm links are made: the signing key (mail links' key) and the page they open."""

    key: bytes
    base_url: str  # e.g. https://sargs.example.lv/dsr/recipients/confirm
    ttl: timedelta = CONFIRM_TTL

    def url(self, token: str) -> str:
        return f"{self.base_url}?t={token}"


def manual_sources(policy: Policy, controller: str) -> list[DataSource]:
    """The controller's sources worked by hand, in policy order."""
    return [
        s
        for s in policy.data_sources
        if s.kind == "manual"
        and s.manual is not None
        and (s.controllers is None or controller in s.controllers)
    ]


# --- recipients told (Art. 19) ------------------------------------------------------------------


def affected(policy: Policy, request: DsrRequest) -> tuple[set[str], set[str]]:
    """(purposes, data categories) a request touches: the purposes it names (else all of the
    controller's), their categories, and for an erasure every category its sources hold."""
    purposes = [
        p for p in policy.purposes_of(request.controller) if not request.purposes or p.id in request.purposes
    ]
    categories = {c for p in purposes for c in p.data_categories}
    if request.kind == "erasure":
        for s in policy.data_sources:
            if s.controllers is None or request.controller in s.controllers:
                categories |= {f.category for t in s.tables for f in t.fields}
                categories |= set(s.manual.data_categories if s.manual else [])
    return {p.id for p in purposes}, categories


def linked_recipients(policy: Policy, request: DsrRequest) -> list[tuple[Processor, list[str]]]:
    """Each processor the policy links to the request's purposes or categories, with the categories
    it is told of (its own among those affected; all affected when it lists none)."""
    purposes, categories = affected(policy, request)
    out = []
    for p in processors_of(policy, request.controller):
        mine = sorted(set(p.data_categories) & categories) if p.data_categories else sorted(categories)
        unspecific = not p.purposes and not p.data_categories
        if unspecific or set(p.purposes) & purposes or (p.data_categories and mine):
            out.append((p, mine))
    return out


def tell_recipients(
    *,
    session: Session,
    policy: Policy,
    request: DsrRequest,
    now: datetime,
    confirm: ConfirmLinks,
) -> list[dict[str, str]]:
    """Queue one notice per linked recipient (call before the request's identities are masked);
    the recipients told, as {id, name, channel}, for the answer (Art. 19, second sentence)."""
    if request.kind not in TOLD_KINDS:
        return []
    controller = policy.controller(request.controller)
    short = controller.short_name if controller else request.controller
    titles = {c.id: c.title for c in policy.data_categories}
    have = {
        n.recipient: n
        for n in session.scalars(
            select(DsrRecipientNotice).where(DsrRecipientNotice.request_id == request.id)
        )
    }
    told: list[dict[str, str]] = []
    for processor, categories in linked_recipients(policy, request):
        lang = processor.language or policy.policy.default_language
        notice = have.get(processor.id)
        if notice is None:
            notice = DsrRecipientNotice(
                id=new_id(),
                request_id=request.id,
                recipient=processor.id,
                name=processor.name[:300],
                language=lang,
                channel="email" if processor.contact.email else "none",
                categories=categories,
                status="told",
                created_at=now,
                expires_at=now + confirm.ttl,
            )
            session.add(notice)
            if processor.contact.email:
                notice.mail_id = _queue_notice(
                    session=session,
                    processor=processor,
                    notice=notice,
                    request=request,
                    controller=short,
                    category_titles=[titles[c].get(lang) if c in titles else c for c in categories],
                    lang=lang,
                    now=now,
                    confirm=confirm,
                )
        told.append({"id": processor.id, "name": processor.name, "channel": notice.channel})
    session.flush()
    return told


def _queue_notice(
    *,
    session: Session,
    processor: Processor,
    notice: DsrRecipientNotice,
    request: DsrRequest,
    controller: str,
    category_titles: Sequence[str],
    lang: str,
    now: datetime,
    confirm: ConfirmLinks,
) -> str:
    held = [i for i in request.identities if i.split(":", 1)[0] in processor.identifies_by]
    token = links.sign(
        confirm.key,
        links.LinkPayload(
            kind="r",
            subject_id="",
            message_id=notice.id,
            controller=request.controller,
            expires=int(notice.expires_at.timestamp()),
        ),
    )
    text = NOTICE_TEXT[lang].format(
        controller=controller,
        action=ACTION[request.kind][lang],
        ref=request.id,
        ids=IDS_LINE[lang].format(ids=", ".join(held)) if held else "",
        categories=", ".join(category_titles) or "-",
        expires=notice.expires_at.date().isoformat(),
        url=confirm.url(token),
        extra=RECTIFIED_NOTE[lang] if request.kind == "rectification" else "",
    )
    assert processor.contact.email is not None
    return mail_outbox.enqueue(
        session=session,
        to=processor.contact.email,
        subject=NOTICE_SUBJECT[lang].format(controller=controller, ref=request.id),
        text=text,
        kind="notice",
        now=now,
        controller=request.controller,
        headers={"Auto-Submitted": "auto-generated"},
    )


def notices_of(*, session: Session, request_id: str) -> list[DsrRecipientNotice]:
    return list(
        session.scalars(
            select(DsrRecipientNotice)
            .where(DsrRecipientNotice.request_id == request_id)
            .order_by(DsrRecipientNotice.name, DsrRecipientNotice.id)
        )
    )


def confirm_by_link(*, session: Session, key: bytes, token: str, now: datetime) -> DsrRecipientNotice:
    """The recipient's confirm link, once: InvalidInput for a forged or altered link, Conflict for an
    expired one or one already used."""
    payload = links.verify(key, token, kind="r")
    if payload is None:
        raise InvalidInput("this confirmation link is not valid (it was altered or is incomplete)", field="t")
    if payload.expired(now.timestamp()):
        raise Conflict("this confirmation link has expired; ask the controller for a new one", field="t")
    notice = session.get(DsrRecipientNotice, payload.message_id, with_for_update=True)
    if notice is None:
        raise NotFound("this notice no longer exists")
    if notice.status == "confirmed":
        raise Conflict(
            f"this notice was already confirmed on {notice.confirmed_at:%Y-%m-%d}"
            if notice.confirmed_at
            else "this notice was already confirmed",
            field="t",
        )
    notice.status, notice.confirmed_at, notice.confirmed_by = "confirmed", now, "link"
    session.flush()
    return notice


def peek_link(*, session: Session, key: bytes, token: str, now: datetime) -> DsrRecipientNotice:
    """The notice a confirm link is for, checked as `confirm_by_link` does, without confirming it."""
    payload = links.verify(key, token, kind="r")
    if payload is None:
        raise InvalidInput("this confirmation link is not valid (it was altered or is incomplete)", field="t")
    if payload.expired(now.timestamp()):
        raise Conflict("this confirmation link has expired; ask the controller for a new one", field="t")
    notice = session.get(DsrRecipientNotice, payload.message_id)
    if notice is None:
        raise NotFound("this notice no longer exists")
    return notice


def confirm_by_staff(
    *, session: Session, request_id: str, notice_id: str, staff_id: str, note: str, now: datetime
) -> DsrRecipientNotice:
    """Staff record that a recipient was told and acted (by phone, post, its own portal)."""
    notice = session.get(DsrRecipientNotice, notice_id, with_for_update=True)
    if notice is None or notice.request_id != request_id:
        raise NotFound(f"no notice {notice_id!r} on this request")
    if len(note.strip()) < 3:
        raise InvalidInput("say how the recipient confirmed (a few words)", field="note")
    if notice.status == "confirmed":
        raise Conflict("this recipient has already confirmed", field="notice")
    notice.status, notice.confirmed_at = "confirmed", now
    notice.confirmed_by, notice.note = f"staff:{staff_id}"[:80], note.strip()[:2000]
    session.flush()
    return notice


# --- manual sources' tasks -----------------------------------------------------------------------


def open_tasks(*, session: Session, policy: Policy, request: DsrRequest, now: datetime) -> list[DsrTask]:
    """A task for each manual source of the controller that has none yet for this request."""
    have = {t.source for t in tasks_of(session=session, request_id=request.id)}
    made = []
    for s in manual_sources(policy, request.controller):
        if s.id in have or s.manual is None or request.kind not in s.manual.kinds:
            continue
        task = DsrTask(
            id=new_id(),
            request_id=request.id,
            source=s.id,
            operation="erase" if request.kind == "erasure" else "collect",
            assignee=s.manual.assignee,
            status="open",
            created_at=now,
            due_at=now + timedelta(days=s.manual.due_days),
        )
        session.add(task)
        made.append(task)
    session.flush()
    return made


def tasks_of(*, session: Session, request_id: str) -> list[DsrTask]:
    return list(
        session.scalars(select(DsrTask).where(DsrTask.request_id == request_id).order_by(DsrTask.source))
    )


def pending_tasks(*, session: Session, request_id: str) -> list[DsrTask]:
    return [t for t in tasks_of(session=session, request_id=request_id) if t.status != "done"]


def finish_task(
    *, session: Session, request_id: str, task_id: str, staff_id: str, note: str, now: datetime
) -> DsrTask:
    """Staff mark a manual task done, saying what they did; the request may then complete."""
    task = session.get(DsrTask, task_id, with_for_update=True)
    if task is None or task.request_id != request_id:
        raise NotFound(f"no task {task_id!r} on this request")
    if len(note.strip()) < 3:
        raise InvalidInput("say what was done (a few words)", field="note")
    if task.status == "done":
        raise Conflict("this task is already done", field="task")
    task.status, task.done_at, task.done_by, task.note = "done", now, staff_id[:64], note.strip()[:2000]
    session.flush()
    return task


def overdue_tasks(
    *, session: Session, now: datetime, controllers: tuple[str, ...] | None = None
) -> list[DsrTask]:
    """Open tasks past their due date, oldest first."""
    stmt = select(DsrTask).where(DsrTask.status == "open", DsrTask.due_at < now)
    if controllers is not None:
        stmt = stmt.join(DsrRequest, DsrRequest.id == DsrTask.request_id).where(
            DsrRequest.controller.in_(controllers)
        )
    return list(session.scalars(stmt.order_by(DsrTask.due_at, DsrTask.id)))
