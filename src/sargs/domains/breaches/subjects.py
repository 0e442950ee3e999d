"""Telling the people affected by a high-risk breach (R-BRE-3, GDPR Art. 34).

The list is built from the data sources the breach touched (each source's identity columns in the
affected tables) and, when asked, from everyone Sargs holds for the controller. It is streamed in
batches, each batch committed on its own with the notices it queued, so a run stopped half-way
is simply run again: a person already told about this breach (unique per breach and person) is
skipped, never told twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.errors import ConfigurationError, Conflict, NotFound
from sargs.core.ids import new_id
from sargs.domains.access.principal import Principal
from sargs.domains.breaches.model import Breach, BreachChange, BreachSubjectNotice
from sargs.domains.breaches.service import actor_of
from sargs.domains.notices.contacts import Reach, reach_identities, reach_subjects
from sargs.domains.notices.once import insert_new
from sargs.domains.notices.ports import MailQueue
from sargs.domains.notices.report import NoticeReport
from sargs.domains.policy.schema import Controller, Policy
from sargs.domains.sms import outbox
from sargs.domains.sources.ports import ConnectorFactory
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectGroup

BATCH = 500


@dataclass(frozen=True)
class Message:
    sms: str
    subject: str
    text: str


def _contact_line(controller: Controller) -> str:
    c = controller.dpo or controller.contact
    return ", ".join(x for x in (c.email, c.phone, c.url) if x) or controller.address


def message_for(
    *, policy: Policy, controller_id: str, title: str, consequences: str, measures: str
) -> Message:
    """A clear message in the policy's language with the English text after it (e-mail), short for SMS."""
    controller = policy.controller(controller_id)
    assert controller is not None
    contact = _contact_line(controller)
    name = controller.short_name
    sms_lv = (
        f"{name}: noticis personas datu aizsardzības pārkāpums, kas var skart jūsu datus. Sīkāk: {contact}"
    )
    sms_en = f"{name}: a personal data breach may affect your data. Details: {contact}"
    lv = (
        f"Labdien!\n\n{controller.legal_name} informē, ka ir noticis personas datu aizsardzības pārkāpums, "
        f"kas var skart jūsu personas datus: {title}.\n\n"
        f"Iespējamās sekas: {consequences or 'tiek izvērtētas'}.\n"
        f"Mūsu veiktie pasākumi: {measures or 'tiek veikti'}.\n\n"
        f"Jautājumus lūdzam uzdot: {contact}.\n"
    )
    en = (
        f"Hello,\n\n{controller.legal_name} is letting you know of a personal data breach that may affect "
        f"your personal data: {title}.\n\n"
        f"Likely consequences: {consequences or 'being assessed'}.\n"
        f"What we have done: {measures or 'in progress'}.\n\n"
        f"Questions: {contact}.\n"
    )
    english_first = policy.policy.default_language == "en"
    return Message(
        sms=sms_en if english_first else sms_lv,
        subject=(
            f"{name}: personal data breach / personas datu aizsardzības pārkāpums"
            if english_first
            else f"{name}: personas datu aizsardzības pārkāpums / personal data breach"
        ),
        text=(en + "\n---\n\n" + lv) if english_first else (lv + "\n---\n\n" + en),
    )


def source_identities(
    *,
    policy: Policy,
    affected_tables: list[str],
    connectors: ConnectorFactory,
    unreachable: list[str] | None = None,
) -> Iterator[Identity]:
    """Every identity held in the identity columns of the affected tables, source by source (streamed).

    A source that cannot be reached (not configured) is skipped and named in `unreachable`, so the
    people Sargs itself holds are still told; its tables' people need another run once it is reachable.
    """
    by_source: dict[str, list[str]] = defaultdict(list)
    for name in affected_tables:
        source_id, _, tbl = name.partition(".")
        by_source[source_id].append(tbl)
    for source in policy.data_sources:
        tables = by_source.get(source.id)
        if not tables:
            continue
        blind = [t for t in tables if (decl := source.table(t)) is not None and not decl.identity]
        if blind and unreachable is not None:
            for name in blind:
                decl = source.table(name)
                parents = ", ".join(f"{source.id}.{r.table}" for r in decl.references) if decl else ""
                unreachable.append(
                    f"{source.id}.{name}: no identity column; its people are found through "
                    f"{parents or 'the tables it references'} — add those to the affected tables"
                )
        tables = [t for t in tables if t not in blind]
        if not tables:
            continue
        try:
            connector = connectors(source)
        except ConfigurationError as exc:
            if unreachable is None:
                raise
            unreachable.append(f"{source.id}: {exc.message}")
            continue
        yield from connector.identities(tables=tables)


def controller_subject_ids(*, session: Session, controller: str, after: str, limit: int) -> list[str]:
    """A page of the subjects Sargs holds for a controller (its client-group members), by id."""
    return list(
        session.scalars(
            select(SubjectGroup.subject_id)
            .where(SubjectGroup.controller == controller, SubjectGroup.subject_id > after)
            .order_by(SubjectGroup.subject_id)
            .limit(limit)
        )
    )


def _batches(items: Iterable[Identity], size: int) -> Iterator[list[Identity]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _queue(
    session: Session,
    *,
    breach_id: str,
    reaches: list[Reach],
    message: Message,
    mail: MailQueue | None,
    now: datetime,
    report: NoticeReport,
) -> None:
    """Record each person not yet told (one INSERT ... ON CONFLICT) and queue their message."""
    planned: list[dict[str, object]] = []
    for r in reaches:
        if r.channel == "email" and r.address and mail is None:
            report.email_unavailable += 1  # not recorded: a later run with an e-mail outbox tells them
            continue
        if r.channel not in ("sms", "email") or not r.address:
            # not recorded: once the person has a phone or e-mail, a later run tells them
            report.unreachable += 1
            continue
        planned.append(
            {
                "breach_id": breach_id,
                "person_key": r.key,
                "channel": r.channel,
                "outbox_id": new_id() if r.channel == "sms" else None,
                "queued_at": now,
            }
        )
    new = insert_new(
        session, table(BreachSubjectNotice), planned, unique=("breach_id", "person_key"), key="person_key"
    )
    by_key = {r.key: r for r in reaches}
    texted: list[tuple[str, Reach]] = []
    emailed: list[tuple[str, str]] = []
    for row in planned:
        key = str(row["person_key"])
        if key not in new:
            report.already += 1
            continue
        r = by_key[key]
        if row["channel"] == "sms":
            texted.append((str(row["outbox_id"]), r))
            report.sms += 1
        elif row["channel"] == "email" and mail is not None and r.address:
            outbox_id = mail.enqueue(
                session=session,
                to=r.address,
                subject=message.subject,
                text=message.text,
                headers={"X-Sargs-Breach": breach_id},
                kind="breach",
                now=now,
                subject_id=r.subject_id,
            )
            emailed.append((key, outbox_id))
            report.email += 1
        else:
            report.unreachable += 1
    if texted:
        outbox.enqueue_many(
            session=session,
            recipients=[(r.address or "", r.subject_id) for _, r in texted],
            text=message.sms,
            kind="notice",
            now=now,
            ids=[outbox_id for outbox_id, _ in texted],
        )
    notices = table(BreachSubjectNotice)
    for key, outbox_id in emailed:
        session.execute(
            update(notices)
            .where(notices.c.breach_id == breach_id, notices.c.person_key == key)
            .values(outbox_id=outbox_id)
        )
    told = len(texted) + len(emailed)
    if told:
        session.execute(
            update(table(Breach))
            .where(table(Breach).c.id == breach_id)
            .values(subjects_notified=table(Breach).c.subjects_notified + told)
        )


def notify_affected(
    *,
    sessions: sessionmaker[Session],
    policy: Policy,
    breach_id: str,
    by: Principal,
    identities: Iterable[Identity],
    include_own_subjects: bool,
    secret: bytes,
    now: Callable[[], datetime],
    mail: MailQueue | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> NoticeReport:
    """Queue a message (SMS or e-mail) to each affected person once; safe to run again after a crash."""
    with sessions.begin() as session:
        row = session.get(Breach, breach_id)
        if row is None or not by.may_see(row.controller):
            raise NotFound("no breach with this id")
        if row.risk != "high":
            raise Conflict(
                "people are told only about a high-risk breach (assess it as high first)", field="risk"
            )
        if row.exemption_ground is not None:
            raise Conflict(
                "an Art. 34(3) exemption is recorded: the people concerned are not told", field="risk"
            )
        if row.status == "closed":
            raise Conflict("the breach is closed", field="status")
        controller = row.controller
        message = message_for(
            policy=policy,
            controller_id=controller,
            title=row.title,
            consequences=row.consequences,
            measures=row.measures,
        )
    report = NoticeReport()

    def tick() -> None:
        report.batches += 1
        if progress is not None:
            progress(report.seen)

    for chunk in _batches(identities, batch):
        with sessions.begin() as session:
            reaches = reach_identities(session=session, identities=chunk, secret=secret)
            _queue(
                session,
                breach_id=breach_id,
                reaches=reaches,
                message=message,
                mail=mail,
                now=now(),
                report=report,
            )
        tick()
    if include_own_subjects:
        after = ""
        while True:
            with sessions.begin() as session:
                ids = controller_subject_ids(session=session, controller=controller, after=after, limit=batch)
                if not ids:
                    break
                reaches = reach_subjects(session=session, subject_ids=ids, secret=secret)
                _queue(
                    session,
                    breach_id=breach_id,
                    reaches=reaches,
                    message=message,
                    mail=mail,
                    now=now(),
                    report=report,
                )
            after = ids[-1]
            tick()
    with sessions.begin() as session:
        session.execute(
            insert(table(BreachChange)),
            {
                "breach_id": breach_id,
                "at": now(),
                "actor": actor_of(by),
                "action": "notify_subjects",
                "changes": {
                    "sms": report.sms,
                    "email": report.email,
                    "already": report.already,
                    "unreachable": report.unreachable,
                    "email_unavailable": report.email_unavailable,
                },
            },
        )
    return report
