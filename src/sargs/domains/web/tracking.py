"""Consent-gated e-mail tracking (R-WEB-2, telecom "viedais e-mārketings").

Opens, clicks and follow-up conversions are recorded only for a subject whose e-mail tracking
consent (the policy's `web.email_tracking_purpose`) is in force at that moment; otherwise
nothing is written (the click still redirects). Delivery failures and spam complaints are
always recorded: they are needed to stop sending. A spam complaint withdraws the consent the
message was sent under.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import InvalidInput
from sargs.core.ids import new_id
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.mail.links import LinkPayload
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.model import Subject
from sargs.domains.web.model import EmailEvent

INSERT = insert(table(EmailEvent))
FAILURES = ("bounce", "complaint")


def tracking_purpose(*, registry: PolicyRegistry, controller: str) -> str | None:
    """The consent purpose that gates tracking of this controller's e-mails (None: never tracked)."""
    policy = registry.policy_for(controller)
    web = policy.web
    if web is None or web.email_tracking_purpose is None:
        return None
    if policy.purpose(controller, web.email_tracking_purpose) is None:
        return None
    return web.email_tracking_purpose


def tracking_allowed(
    *,
    session: Session,
    registry: PolicyRegistry,
    controller: str,
    subject_id: str,
    at: datetime | None = None,
) -> bool:
    """Is this subject's e-mail tracking consent in force now (or at `at`)?"""
    purpose = tracking_purpose(registry=registry, controller=controller)
    if purpose is None:
        return False
    return check_consent(
        session=session, subject_id=subject_id, controller=controller, purpose=purpose, at=at
    ).allowed


def _event(
    session: Session,
    *,
    message_id: str,
    subject_id: str | None,
    controller: str,
    kind: str,
    now: datetime,
    url: str | None = None,
    detail: dict[str, Any] | None = None,
) -> str:
    event_id = new_id()
    session.execute(
        INSERT,
        {
            "id": event_id,
            "message_id": message_id,
            "subject_id": subject_id,
            "controller": controller,
            "kind": kind,
            "url": url,
            "detail": dict(detail or {}),
            "occurred_at": now,
        },
    )
    return event_id


def record_interaction(
    *,
    session: Session,
    registry: PolicyRegistry,
    payload: LinkPayload,
    kind: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> str | None:
    """Record an open, click or conversion if, and only if, tracking consent is in force now;
    returns the event's id (a random id: a click's id is what the landing page gets), else None."""
    if kind not in ("open", "click", "conversion"):
        raise InvalidInput("kind must be open, click or conversion", field="kind")
    try:
        allowed = tracking_allowed(
            session=session, registry=registry, controller=payload.controller, subject_id=payload.subject_id
        )
    except InvalidInput:  # a controller no longer loaded: nothing to record against
        return None
    if not allowed:
        return None
    return _event(
        session,
        message_id=payload.message_id,
        subject_id=payload.subject_id,
        controller=payload.controller,
        kind=kind,
        now=now,
        url=payload.url if kind != "open" else None,
        detail=detail,
    )


def click_of(*, session: Session, click_id: str) -> LinkPayload | None:
    """The link behind a recorded click, found by the click's random id (what a shop reports a
    conversion with); None for an unknown id."""
    row = session.execute(
        select(EmailEvent.message_id, EmailEvent.subject_id, EmailEvent.controller, EmailEvent.url).where(
            EmailEvent.id == click_id, EmailEvent.kind == "click"
        )
    ).first()
    if row is None or row.subject_id is None:
        return None
    return LinkPayload(
        kind="c", subject_id=row.subject_id, message_id=row.message_id, controller=row.controller, url=row.url
    )


def record_failure(
    *,
    session: Session,
    registry: PolicyRegistry,
    message_id: str,
    kind: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> tuple[str, str | None]:
    """Record a bounce or spam complaint for a sent message; a complaint withdraws the consent the
    message went out under. Returns (event id, withdrawal event id or None)."""
    if kind not in FAILURES:
        raise InvalidInput(f"type must be one of {', '.join(FAILURES)}", field="type")
    row = session.execute(
        select(MailOutbox.subject_id, MailOutbox.controller, MailOutbox.purpose).where(
            MailOutbox.id == message_id
        )
    ).first()
    if row is None:
        raise InvalidInput("no message with this message_id was sent", field="message_id")
    controller = row.controller or ""
    event_id = _event(
        session,
        message_id=message_id,
        subject_id=row.subject_id,
        controller=controller,
        kind=kind,
        now=now,
        detail=detail,
    )
    withdrawn = None
    if kind == "complaint" and row.subject_id and row.controller and row.purpose:
        session.execute(select(Subject.id).where(Subject.id == row.subject_id).with_for_update())
        state = check_consent(
            session=session, subject_id=row.subject_id, controller=row.controller, purpose=row.purpose
        )
        if state.allowed:
            purpose = registry.purpose(row.controller, row.purpose)
            channel = "email_link" if "email_link" in purpose.consent_channels else "api"
            outcome = record_consent(
                session=session,
                registry=registry,
                subject_id=row.subject_id,
                controller=row.controller,
                purpose=row.purpose,
                action="withdraw",
                channel=channel,
                actor=Actor("system", "spam-complaint"),
                now=now,
                evidence={"reason": "spam_complaint", "message_id": message_id},
            )
            withdrawn = outcome.event.id if outcome.event is not None else None
    return event_id, withdrawn


def events_of(*, session: Session, subject_id: str) -> list[EmailEvent]:
    """A subject's recorded e-mail events, oldest first."""
    return list(
        session.scalars(
            select(EmailEvent).where(EmailEvent.subject_id == subject_id).order_by(EmailEvent.occurred_at)
        )
    )
