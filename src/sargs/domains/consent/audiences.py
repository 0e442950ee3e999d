"""Who may be contacted now for a purpose (R-CON-6), streamed in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import InvalidInput
from sargs.domains.consent.model import ConsentState
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.model import Subject, SubjectIdentity

# Contact channel -> the identity it needs.
CHANNEL_IDENTITY = {"sms": "msisdn", "phone": "msisdn", "email": "email"}


class AudienceRow(NamedTuple):
    subject_id: str
    since: datetime
    contact: str | None


def iter_audience(
    *,
    session: Session,
    registry: PolicyRegistry,
    controller: str,
    purpose: str,
    channel: str | None = None,
    batch_size: int = 10_000,
) -> Iterator[AudienceRow]:
    """Every subject with consent in force now, with the contact for `channel` when given."""
    purpose_def = registry.purpose(controller, purpose)
    if not purpose_def.needs_consent:
        raise InvalidInput(f"purpose {purpose!r} is not consent-based; it has no audience", field="purpose")
    if channel is not None:
        if channel not in purpose_def.contact_channels:
            allowed = ", ".join(purpose_def.contact_channels) or "none"
            raise InvalidInput(
                f"purpose {purpose!r} does not allow contact over {channel!r} (allowed: {allowed})",
                field="channel",
            )
        if channel not in CHANNEL_IDENTITY:
            raise InvalidInput(
                f"Sargs holds no {channel!r} addresses to build this audience", field="channel"
            )
    # Core statements on the tables: no ORM row handling for a million rows.
    states, subjects, identities = table(ConsentState), table(Subject), table(SubjectIdentity)
    base = [states.c.controller == controller, states.c.purpose == purpose, states.c.status == "granted"]
    if channel is None:
        stmt = (
            select(states.c.subject_id, states.c.since)
            .join(subjects, subjects.c.id == states.c.subject_id)
            .where(*base, subjects.c.erased_at.is_(None))
        )
        for row in session.execute(stmt.execution_options(yield_per=batch_size)):
            yield AudienceRow(row[0], row[1], None)
        return
    contact_stmt = (
        select(states.c.subject_id, states.c.since, identities.c.value)
        .join(
            identities,
            (identities.c.subject_id == states.c.subject_id)
            & (identities.c.kind == CHANNEL_IDENTITY[channel]),
        )
        .where(*base)
    )
    for crow in session.execute(contact_stmt.execution_options(yield_per=batch_size)):
        yield AudienceRow(crow[0], crow[1], crow[2])
