"""Marketing e-mail to an audience, with RFC 8058 one-click unsubscribe, and the unsubscribe
and re-subscribe actions its links lead to.

Every message carries `List-Unsubscribe: <https://.../u/TOKEN>` (plus a mailto when configured)
and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; TOKEN is signed per recipient and
message. Tracking (pixel, redirected links) is put only into messages to people whose e-mail
tracking consent is in force when the message is queued; it is checked again when they open or
click.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import InvalidInput, PermissionDenied
from sargs.core.i18n import Message
from sargs.core.ids import new_id
from sargs.domains.consent.audiences import iter_audience
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.model import ConsentState
from sargs.domains.consent.service import Actor, ConsentOutcome, record_consent
from sargs.domains.mail.links import LinkPayload, sign
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.outbox import enqueue
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.model import Subject
from sargs.domains.web.model import EmailEvent
from sargs.domains.web.tracking import tracking_purpose

URL = re.compile(r"https?://[^\s<>\"']+")
STATES = table(ConsentState)
SUBJECTS = table(Subject)
EVENTS = table(EmailEvent)
BOUNCE_MEMORY = timedelta(days=90)
FOOTER = Message("mail.campaign", "FOOTER")


@dataclass(frozen=True)
class CampaignReport:
    queued: int
    tracked: int
    bounced: int = 0  # left out: their address bounced within BOUNCE_MEMORY


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def unsubscribe_headers(*, base_url: str, token: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for one recipient."""
    targets = [f"<{unsubscribe_url(base_url, token)}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject={quote('unsubscribe ' + token)}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _tracked_html(
    text: str, *, footer: str, unsubscribe: str, base_url: str, key: bytes, link: LinkPayload
) -> str:
    """The text as HTML, its links sent through the click redirector, with an open pixel; the
    unsubscribe link in the footer goes straight to the unsubscribe page (never tracked)."""
    base = base_url.rstrip("/")
    parts: list[str] = []
    last = 0
    for match in URL.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        url = match.group(0)
        token = sign(key, LinkPayload("c", link.subject_id, link.message_id, link.controller, url=url))
        parts.append(f'<a href="{base}/t/c/{token}">{html.escape(url)}</a>')
        last = match.end()
    parts.append(html.escape(text[last:]))
    pixel = sign(key, LinkPayload("o", link.subject_id, link.message_id, link.controller))
    body = "".join(parts).replace("\n", "<br>\n")
    note = html.escape(footer.format(url="")).rstrip()
    return (
        f"<!doctype html><html><body><p>{body}</p><hr><p>{note} "
        f'<a href="{html.escape(unsubscribe)}">{html.escape(unsubscribe)}</a></p>'
        f'<img src="{base}/t/o/{pixel}.gif" width="1" height="1" alt=""></body></html>'
    )


def lock_subject(*, session: Session, subject_id: str) -> None:
    """Hold the subject's row lock (the consent writers' lock) until the transaction ends."""
    session.execute(select(SUBJECTS.c.id).where(SUBJECTS.c.id == subject_id).with_for_update())


def _bounced_subjects(session: Session, controller: str, since: datetime) -> set[str]:
    """Subjects whose mail from this controller bounced since `since` (delivery failures are kept
    without consent precisely so that sending to a dead address stops)."""
    rows = session.execute(
        select(EVENTS.c.subject_id).where(
            EVENTS.c.controller == controller,
            EVENTS.c.kind == "bounce",
            EVENTS.c.occurred_at >= since,
            EVENTS.c.subject_id.is_not(None),
        )
    )
    return {r[0] for r in rows}


def _tracking_subjects(session: Session, controller: str, purpose: str | None) -> set[str]:
    if purpose is None:
        return set()
    rows = session.execute(
        select(STATES.c.subject_id).where(
            STATES.c.controller == controller, STATES.c.purpose == purpose, STATES.c.status == "granted"
        )
    )
    return {r[0] for r in rows}


def enqueue_campaign(
    *,
    session: Session,
    registry: PolicyRegistry,
    key: bytes,
    base_url: str,
    controller: str,
    purpose: str,
    subject: str,
    text: str,
    now: datetime,
    language: str = "lv",
    mailto: str | None = None,
) -> CampaignReport:
    """Queue one marketing e-mail per subject whose consent for `purpose` is in force now."""
    if language not in FOOTER:
        raise InvalidInput("language must be lv or en", field="language")
    if not text.strip():
        raise InvalidInput("the text is empty", field="text")
    bounced_ids = _bounced_subjects(session, controller, now - BOUNCE_MEMORY)
    bounced = 0
    tracked_ids = _tracking_subjects(
        session, controller, tracking_purpose(registry=registry, controller=controller)
    )
    queued = tracked = 0
    rows = list(
        iter_audience(
            session=session, registry=registry, controller=controller, purpose=purpose, channel="email"
        )
    )
    for row in rows:
        if not row.contact:
            continue
        if row.subject_id in bounced_ids:
            bounced += 1
            continue
        message_id = new_id()
        token = sign(key, LinkPayload("u", row.subject_id, message_id, controller, purpose=purpose))
        unsubscribe = unsubscribe_url(base_url, token)
        body = text.rstrip() + "\n\n-- \n" + FOOTER[language].format(url=unsubscribe) + "\n"
        html_body = None
        if row.subject_id in tracked_ids:
            html_body = _tracked_html(
                text.rstrip(),
                footer=FOOTER[language],
                unsubscribe=unsubscribe,
                base_url=base_url,
                key=key,
                link=LinkPayload("o", row.subject_id, message_id, controller),
            )
            tracked += 1
        enqueue(
            session=session,
            to=row.contact,
            subject=subject,
            text=body,
            html=html_body,
            headers=unsubscribe_headers(base_url=base_url, token=token, mailto=mailto),
            kind="marketing",
            now=now,
            subject_id=row.subject_id,
            controller=controller,
            purpose=purpose,
            message_id=message_id,
        )
        queued += 1
    return CampaignReport(queued=queued, tracked=tracked, bounced=bounced)


@dataclass(frozen=True)
class Subscription:
    controller: str
    purpose: str
    subscribed: bool


def subscription(*, session: Session, registry: PolicyRegistry, link: LinkPayload) -> Subscription:
    """Whether the link's recipient currently has the consent the message was sent under."""
    purpose = _purpose_of(registry, link)
    state = check_consent(
        session=session, subject_id=link.subject_id, controller=link.controller, purpose=purpose
    )
    return Subscription(link.controller, purpose, state.allowed)


def _purpose_of(registry: PolicyRegistry, link: LinkPayload) -> str:
    if link.purpose is None:
        raise InvalidInput("this link names no purpose", field="token")
    registry.purpose(link.controller, link.purpose)
    return link.purpose


# How long after a message its link may still grant the consent again (withdrawing never expires).
RESUBSCRIBE_WINDOW = timedelta(days=30)


def set_subscription(
    *, session: Session, registry: PolicyRegistry, link: LinkPayload, subscribe: bool, now: datetime
) -> ConsentOutcome | None:
    """Withdraw (or grant again) the consent behind an unsubscribe link, over channel email_link.

    Nothing is written when the consent is already as asked (a repeated one-click POST). The
    subject's row is locked first, so concurrent POSTs of one link write one withdrawal."""
    purpose = _purpose_of(registry, link)
    if subscribe:  # a forwarded or old e-mail must not let someone else grant consent in their name
        sent = session.scalar(select(MailOutbox.created_at).where(MailOutbox.id == link.message_id))
        if sent is None or now - sent > RESUBSCRIBE_WINDOW:
            raise PermissionDenied(
                "this link is too old to subscribe again; sign in to the portal to give the consent"
            )
    lock_subject(session=session, subject_id=link.subject_id)
    state = check_consent(
        session=session, subject_id=link.subject_id, controller=link.controller, purpose=purpose
    )
    if state.allowed == subscribe:
        return None
    return record_consent(
        session=session,
        registry=registry,
        subject_id=link.subject_id,
        controller=link.controller,
        purpose=purpose,
        action="grant" if subscribe else "withdraw",
        channel="email_link",
        actor=Actor("subject", link.subject_id),
        now=now,
        evidence={"message_id": link.message_id, "via": "unsubscribe link"},
    )
