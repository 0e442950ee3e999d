"""The self-service portal's actions for a signed-in data subject (R-ACC-2): sign in with a
code, see and change consents (channel `portal`), correct contact details (R 6.1, the
rectification path), and start a rights request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.core.ids import new_id
from sargs.domains.access.scope import subject_controllers
from sargs.domains.consent.service import Actor, ConsentOutcome, current_states, record_consent
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Purpose
from sargs.domains.portal.codes import check_code, issue_code
from sargs.domains.portal.model import RequestIntent
from sargs.domains.portal.ports import CodeSender
from sargs.domains.subjects.identifiers import Identity, make_identity, parse_identity
from sargs.domains.subjects.model import SubjectIdentity
from sargs.domains.subjects.service import add_identity, find_subject_id

REQUEST_KINDS: tuple[str, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "automated_decision_review",
    "consent_withdrawal",
)


@dataclass(frozen=True)
class OfferedPurpose:
    controller: str
    purpose: Purpose
    status: str  # granted | withdrawn | refused | none
    event_id: str | None


def read_identity(text: str, *, region: str = "LV") -> Identity:
    """A phone number or e-mail typed into a form ('@' means e-mail)."""
    text = text.strip()
    if not text:
        raise InvalidInput("enter a phone number or e-mail address", field="identity")
    if ":" in text and text.split(":", 1)[0] in ("msisdn", "email"):
        return parse_identity(text, region=region)
    return make_identity("email" if "@" in text else "msisdn", text, region=region)


def start_sign_in(
    *, session: Session, key: bytes, identity: Identity, sender: CodeSender, now: datetime, language: str
) -> str:
    """Send a sign-in code if the identity is known; the same challenge comes back either way."""
    subject_id = find_subject_id(session=session, identity=identity) if identity.kind != "customer" else None
    return issue_code(
        session=session,
        key=key,
        identity=identity,
        purpose="signin",
        subject_id=subject_id,
        sender=sender,
        now=now,
        language=language,
        pending_value=str(identity) if subject_id else None,
    )


def finish_sign_in(*, session: Session, key: bytes, challenge: str, code: str, now: datetime) -> str | None:
    """The subject id if the code is right; receiving it proves control of the address, so that
    identity is marked verified."""
    result = check_code(session=session, key=key, challenge=challenge, code=code, purpose="signin", now=now)
    if not result.ok:
        return None
    if result.pending_value:
        mark_verified(session=session, identity=parse_identity(result.pending_value))
    return result.subject_id


def offered_purposes(*, session: Session, registry: PolicyRegistry, subject_id: str) -> list[OfferedPurpose]:
    """Consent purposes the portal offers this person: of controllers that know them, with the
    `portal` channel, and their current status."""
    states = {(s.controller, s.purpose): s for s in current_states(session=session, subject_id=subject_id)}
    out = []
    for controller in sorted(subject_controllers(session=session, subject_id=subject_id)):
        try:
            policy = registry.policy_for(controller)
        except InvalidInput:
            continue
        for purpose in policy.purposes_of(controller):
            if purpose.needs_consent and "portal" in purpose.consent_channels:
                state = states.get((controller, purpose.id))
                out.append(
                    OfferedPurpose(
                        controller,
                        purpose,
                        state.status if state else "none",
                        state.event_id if state else None,
                    )
                )
    return out


def set_consents(
    *,
    session: Session,
    registry: PolicyRegistry,
    subject_id: str,
    controller: str,
    granted: set[str],
    shown: set[str],
    now: datetime,
    evidence: dict[str, Any] | None = None,
) -> list[ConsentOutcome]:
    """Apply the person's choices for the purposes that were on their screen: a ticked box that
    is not granted becomes a grant, an unticked granted one a withdrawal; nothing else changes."""
    offered = {
        o.purpose.id: o
        for o in offered_purposes(session=session, registry=registry, subject_id=subject_id)
        if o.controller == controller
    }
    outcomes = []
    for purpose_id in sorted(shown):
        item = offered.get(purpose_id)
        if item is None:
            raise InvalidInput(f"purpose {purpose_id!r} is not offered here", field="purpose")
        want = purpose_id in granted
        if want == (item.status == "granted"):
            continue
        outcomes.append(
            record_consent(
                session=session,
                registry=registry,
                subject_id=subject_id,
                controller=controller,
                purpose=purpose_id,
                action="grant" if want else "withdraw",
                channel="portal",
                actor=Actor("subject", subject_id),
                now=now,
                evidence=evidence,
            )
        )
    return outcomes


def start_contact_change(
    *,
    session: Session,
    key: bytes,
    subject_id: str,
    identity: Identity,
    replace: bool,
    sender: CodeSender,
    now: datetime,
    language: str,
) -> str:
    """Send a code to a new phone or e-mail the person wants on file."""
    if identity.kind not in ("msisdn", "email"):
        raise InvalidInput("only a phone number or an e-mail address can be added here", field="identity")
    return issue_code(
        session=session,
        key=key,
        identity=identity,
        purpose="contact",
        subject_id=subject_id,
        sender=sender,
        now=now,
        language=language,
        pending_value=str(identity),
        pending_replace=replace,
    )


def confirm_contact_change(
    *, session: Session, key: bytes, subject_id: str, challenge: str, code: str, now: datetime
) -> Identity | None:
    """With the right code, the new address is added (verified); with `replace`, older addresses of
    the same kind are removed (rectification). None if the code is wrong."""
    result = check_code(session=session, key=key, challenge=challenge, code=code, purpose="contact", now=now)
    if not result.ok or result.subject_id != subject_id or result.pending_value is None:
        return None
    identity = parse_identity(result.pending_value)
    add_identity(session=session, subject_id=subject_id, identity=identity, now=now, verified=True)
    if result.pending_replace:
        session.execute(
            delete(SubjectIdentity).where(
                SubjectIdentity.subject_id == subject_id,
                SubjectIdentity.kind == identity.kind,
                SubjectIdentity.value != identity.value,
            )
        )
    return identity


def mark_verified(*, session: Session, identity: Identity) -> None:
    """Record that the person showed control of this identity (they received a code there)."""
    row = session.scalar(
        select(SubjectIdentity).where(
            SubjectIdentity.kind == identity.kind, SubjectIdentity.value == identity.value
        )
    )
    if row is not None and not row.verified:
        row.verified = True
        session.flush()


def start_request(
    *, session: Session, subject_id: str, controller: str, kind: str, details: str, now: datetime
) -> RequestIntent:
    """Record that the person asked for something (R-DSR-1); the DSR workflow picks it up later."""
    if kind not in REQUEST_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(REQUEST_KINDS)}", field="kind")
    if controller not in subject_controllers(session=session, subject_id=subject_id):
        raise InvalidInput("choose a company that holds your data", field="controller")
    row = RequestIntent(
        id=new_id(),
        subject_id=subject_id,
        controller=controller,
        kind=kind,
        details=details.strip()[:4000],
        channel="portal",
        status="received",
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def requests_of(*, session: Session, subject_id: str) -> list[RequestIntent]:
    return list(
        session.scalars(
            select(RequestIntent)
            .where(RequestIntent.subject_id == subject_id)
            .order_by(RequestIntent.created_at)
        )
    )
