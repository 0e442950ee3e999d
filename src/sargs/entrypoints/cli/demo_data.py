"""Sample people with consent histories, for the demo and the benchmarks.

Everything is driven by the loaded policies: each controller's consent purposes, their
channels and client-group eligibility. Nothing here knows a company by name.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container


@dataclass
class DemoStats:
    subjects: int = 0
    events: int = 0
    rejections: int = 0
    sample_msisdn: str = ""
    sample_event_id: str = ""


def generate(
    *,
    container: Container,
    subjects: int,
    seed: int = 7,
    batch: int = 250,
    progress: Callable[[int], None] | None = None,
    sample: tuple[str, str] = ("lmt", "offers"),
) -> DemoStats:
    """Create `subjects` people spread over the controllers that ask for consent.

    `sample` names a (controller, purpose) whose first lasting grant is reported, for examples.
    """
    rng = random.Random(seed)
    registry = container.registry
    # Each policy gets an equal share of people; within a group, most are the main company's.
    slots = []
    for policy in registry.policies:
        asking = [
            (policy, c.id, [p for p in policy.purposes_of(c.id) if p.needs_consent and p.consent_channels])
            for c in policy.controllers
        ]
        asking = [item for item in asking if item[2]]
        if asking:
            slots.append(asking)
    stats = DemoStats()
    if not slots:
        return stats
    now = container.clock.now()
    done = 0
    while done < subjects:
        with container.sessions.begin() as session:
            for _ in range(min(batch, subjects - done)):
                group_slots = slots[done % len(slots)]
                main = rng.random() < 0.8 or len(group_slots) == 1
                policy, controller, purposes = group_slots[0] if main else rng.choice(group_slots[1:])
                n = 20_000_000 + done * 7 + rng.randrange(7)
                identities = [Identity("msisdn", f"+371{n}")]
                if rng.random() < 0.6:
                    identities.append(Identity("email", f"person{done}@example.lv"))
                groups = [g.id for g in policy.client_groups]
                group = groups[0] if rng.random() < 0.7 or len(groups) == 1 else rng.choice(groups[1:])
                if group == groups[0]:
                    identities.append(Identity("customer", f"{controller.upper()}-{100000 + done}"))
                subject_id = create_subject(
                    session=session, identities=identities, now=now, groups={controller: group}
                )
                stats.subjects += 1
                for purpose in purposes:
                    if rng.random() > 0.55:
                        continue
                    at = now - timedelta(days=rng.uniform(30, 900), seconds=rng.randrange(86400))
                    outcome = record_consent(
                        session=session,
                        registry=registry,
                        subject_id=subject_id,
                        controller=controller,
                        purpose=purpose.id,
                        action="grant" if rng.random() < 0.9 else "refuse",
                        channel=rng.choice(purpose.consent_channels),
                        actor=Actor("system", "demo"),
                        now=now,
                        occurred_at=at,
                        evidence={"source": "demo"},
                    )
                    if outcome.rejection is not None:
                        stats.rejections += 1
                        continue
                    stats.events += 1
                    assert outcome.event is not None
                    withdraw_later = outcome.event.action == "grant" and rng.random() < 0.25
                    if (
                        not stats.sample_event_id
                        and (controller, purpose.id) == sample
                        and outcome.event.action == "grant"
                        and not withdraw_later
                    ):
                        stats.sample_msisdn = identities[0].value
                        stats.sample_event_id = outcome.event.id
                    if withdraw_later:
                        record_consent(
                            session=session,
                            registry=registry,
                            subject_id=subject_id,
                            controller=controller,
                            purpose=purpose.id,
                            action="withdraw",
                            channel=rng.choice(purpose.consent_channels),
                            actor=Actor("system", "demo"),
                            now=now,
                            occurred_at=at + timedelta(days=rng.uniform(1, 25)),
                            evidence={"source": "demo"},
                        )
                        stats.events += 1
                done += 1
        if progress is not None:
            progress(done)
    return stats
