"""Consents that lapse when a person leaves the client group that alone may give them (issue 19).

The telecom seed offers METADATI, AUTO, VIETA and SADARBIBA to "Tikai LMT klienti" (LMT's own
clients only): being a client is a condition of holding the consent, not only of asking for it.
So when a person stops being an own client (a sync no longer finds them in the billing system, an
import or the API moves them), each consent they hold that their new group may not give lapses:

- Sargs appends a `withdraw` event to the person's chain through `record_consent`, like any other
  decision, so the ledger stays exact for point-in-time answers (granted until the lapse, not after)
  and `sargs ledger verify` still passes; the audience, the consent check, the portal and the
  retention rules anchored on withdrawal all see it without knowing about lapses;
- the event's actor is `system:client-group`, and its evidence says why: `{"lapsed": "client_group",
  "from": <old group>, "to": <new group>, "by": <what moved them>}`;
- channel: `api` when the purpose takes consent over it (Sargs' own machine interface), else the
  purpose's first consent channel (record_consent accepts only declared channels).

A person who becomes an own client again does not get the consent back: they must give it anew
(consent is a fresh, specific act; GDPR Art. 4(11)). Consents open to the new group stay as they were.
SADARBIBA's "two years after the last transaction" is read as how long the loyalty data may be used
while the consent stands, not as a consent that outlives being a client.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.domains.consent.model import ConsentState
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.policy.registry import PolicyRegistry

LAPSE_ACTOR = Actor("system", "client-group")


def lapsing_purposes(*, registry: PolicyRegistry, controller: str, old: str, new: str) -> list[str]:
    """Purposes of `controller` that `old` may give and `new` may not (empty if nothing lapses)."""
    if old == new:
        return []
    policy = registry.policy_for(controller)
    return [
        p.id
        for p in policy.purposes_of(controller)
        if p.needs_consent
        and p.eligible_groups is not None
        and old in p.eligible_groups
        and new not in p.eligible_groups
    ]


def lapse_consents(
    *,
    session: Session,
    registry: PolicyRegistry,
    subject_id: str,
    controller: str,
    old: str,
    new: str,
    by: str,
    now: datetime,
) -> list[str]:
    """Record the lapse of every granted consent `new` may not give; the ids of the events written.

    Call after the group changed, in the same transaction.
    """
    purposes = lapsing_purposes(registry=registry, controller=controller, old=old, new=new)
    if not purposes:
        return []
    granted = session.scalars(
        select(ConsentState.purpose)
        .where(
            ConsentState.subject_id == subject_id,
            ConsentState.controller == controller,
            ConsentState.purpose.in_(purposes),
            ConsentState.status == "granted",
        )
        .order_by(ConsentState.purpose)
    ).all()
    events = []
    for purpose in granted:
        channels = registry.purpose(controller, purpose).consent_channels
        outcome = record_consent(
            session=session,
            registry=registry,
            subject_id=subject_id,
            controller=controller,
            purpose=purpose,
            action="withdraw",
            channel="api" if "api" in channels else channels[0],
            actor=LAPSE_ACTOR,
            now=now,
            evidence={"lapsed": "client_group", "from": old, "to": new, "by": by},
        )
        assert outcome.event is not None
        events.append(outcome.event.id)
    return events
