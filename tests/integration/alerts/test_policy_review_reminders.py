"""The policy review reminder (R-POL-3) e-mailed to the DPO: 30 days ahead, on the due date, then
weekly while overdue — each once, however often the daily job runs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from sargs.core.clock import as_utc
from sargs.domains.alerts.service import recipients
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy import reviews
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.reviews import queue_review_reminders, reminder_step
from sargs.domains.policy.schema import Policy
from sargs.entrypoints.container import Container

DUE = date(2027, 3, 10)  # published 2025-03-10, reviewed every 24 months


def _registry(container: Container) -> PolicyRegistry:
    policies: list[Policy] = []
    for p in container.registry.policies:
        meta = p.policy.model_copy(update={"published": date(2025, 3, 10)})
        policies.append(p.model_copy(update={"policy": meta}))
    return PolicyRegistry(policies)


def _run(container: Container, registry: PolicyRegistry, day: date) -> int:
    with container.sessions.begin() as session:
        return queue_review_reminders(
            session=session,
            registry=registry,
            now=as_utc(datetime.combine(day, time(7, 0))),
            today=day,
            configured=("lmt:dpo@lmt.example",),
            console_url="https://sargs.example.lv",
        )


def _mail(container: Container) -> list[MailOutbox]:
    with container.read_sessions() as session:
        return list(session.scalars(select(MailOutbox).order_by(MailOutbox.created_at, MailOutbox.id)))


def test_the_step_is_soon_then_one_per_week_from_the_due_date() -> None:
    assert reminder_step(today=DUE - timedelta(days=31), due=DUE) is None
    assert reminder_step(today=DUE - timedelta(days=30), due=DUE) == "soon"
    assert reminder_step(today=DUE, due=DUE) == "due-0"
    assert reminder_step(today=DUE + timedelta(days=6), due=DUE) == "due-0"
    assert reminder_step(today=DUE + timedelta(days=7), due=DUE) == "due-1"


def test_a_review_reminder_is_sent_once_per_step_to_the_company_dpo(container: Container) -> None:
    registry = _registry(container)
    assert registry.review_reminders(today=DUE)[0].due == DUE
    assert _run(container, registry, DUE - timedelta(days=40)) == 0
    told = [  # LMT by the configured address; any other company by its policy's DPO or contact
        c.id for p in registry.policies for c in p.controllers if recipients(c, ("lmt:dpo@lmt.example",))
    ]
    assert "lmt" in told
    assert _run(container, registry, DUE - timedelta(days=10)) == len(told)
    assert _run(container, registry, DUE - timedelta(days=10)) == 0  # the same day again
    assert _run(container, registry, DUE - timedelta(days=9)) == 0  # the next day
    assert _run(container, registry, DUE) == len(told)
    assert _run(container, registry, DUE + timedelta(days=3)) == 0
    assert _run(container, registry, DUE + timedelta(days=7)) == len(told)
    mail = [m for m in _mail(container) if m.controller == "lmt"]
    assert [m.to_address for m in mail] == ["dpo@lmt.example"] * 3
    soon, due, week = mail
    assert soon.subject.startswith("Sargs: privātuma politikas lmt-group pārskatīšanas termiņš 2027-03-10")
    assert "nokavēta" in due.subject and "Nokavēts par (dienas): 0" in due.text
    assert "Overdue by (days): 7" in week.text and "https://sargs.example.lv/console/" in week.text


def test_an_overdue_example_policy_reminds_every_company_with_an_address(container: Container) -> None:
    with container.sessions.begin() as session:
        n = queue_review_reminders(
            session=session,
            registry=container.registry,
            now=as_utc(datetime(2026, 11, 23, 7)),
            configured=("dpo@group.example",),
        )
    assert n == sum(len(p.controllers) for p in container.registry.policies)
    with container.sessions.begin() as session:
        assert (
            queue_review_reminders(
                session=session,
                registry=container.registry,
                now=as_utc(datetime(2026, 11, 23, 19)),
                configured=("dpo@group.example",),
            )
            == 0
        )


def test_review_texts_exist_in_latvian_and_english() -> None:
    for name in dir(reviews):
        value = getattr(reviews, name)
        if name.isupper() and isinstance(value, dict):
            assert set(value) == {"lv", "en"}, name
            assert all(isinstance(v, str) and v.strip() for v in value.values()), name
