"""Breach-deadline alerts (issue 14, R-BRE-2): the DPO hears at 24 h and at 6 h before the 72-hour
deadline, each alert once — on reruns, after an outage, and with two workers at the same time."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from sargs.domains.access.principal import Principal
from sargs.domains.alerts.model import StaffAlert
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.alerts import SUBJECT, SUBJECT_OVERDUE, due_threshold, queue_deadline_alerts
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Contact
from sargs.entrypoints.container import Container
from tests.conftest import NOW

DPO = Principal(kind="staff", id="dpo-1", role="dpo", controllers=None)
TO = ("dpo@lmt.example",)


def _register(container: Container, hours_ago: float, **over: Any) -> str:
    values = {
        "title": "Loyalty database copied by an intruder",
        "nature": "Unauthorised access to the loyalty programme database via a stolen password.",
        "aware_at": NOW - timedelta(hours=hours_ago),
        **over,
    }
    with container.sessions.begin() as session:
        return breaches.register_breach(
            session=session, registry=container.registry, controller="lmt", values=values, by=DPO, now=NOW
        ).id


def _alerts(container: Container, now: Any = NOW, registry: PolicyRegistry | None = None, **kw: Any) -> int:
    with container.sessions.begin() as session:
        return queue_deadline_alerts(
            session=session,
            registry=registry or container.registry,
            now=now,
            configured=kw.pop("configured", TO),
            **kw,
        )


def _mail(container: Container) -> list[MailOutbox]:
    with container.read_sessions() as session:
        return list(session.scalars(select(MailOutbox).order_by(MailOutbox.created_at, MailOutbox.id)))


def test_the_threshold_is_the_most_urgent_one_reached() -> None:
    assert due_threshold(remaining=timedelta(hours=30)) is None
    assert due_threshold(remaining=timedelta(hours=24)) == 24
    assert due_threshold(remaining=timedelta(hours=22)) == 24
    assert due_threshold(remaining=timedelta(hours=6)) == 6
    assert due_threshold(remaining=timedelta(hours=2)) == 6
    assert due_threshold(remaining=timedelta(hours=-5)) == 6


def test_a_breach_registered_50_hours_ago_gets_its_24_hour_alert_once(container: Container) -> None:
    breach_id = _register(container, hours_ago=50)
    assert _alerts(container) == 1
    assert _alerts(container) == 0  # the next minute's run
    assert _alerts(container, now=NOW + timedelta(hours=10)) == 0  # 12 h left: still only the 24 h alert
    mail = _mail(container)
    assert len(mail) == 1
    m = mail[0]
    assert m.to_address == TO[0] and m.kind == "notice" and m.controller == "lmt"
    assert "Loyalty database copied by an intruder" in m.subject and "22 h 00 min" in m.subject
    assert m.subject.startswith("Sargs: pārkāpums")  # the company's language first
    assert breach_id in m.text
    # awareness 2026-11-21 08:00 UTC and the deadline 2026-11-24 08:00 UTC, read in Riga (UTC+2)
    assert "Konstatēts: 2026-11-21 10:00 EET" in m.text and "Became aware: 2026-11-21 10:00 EET" in m.text
    assert "Termiņš: 2026-11-24 10:00 EET" in m.text and "Deadline: 2026-11-24 10:00 EET" in m.text
    assert "Atlicis: 22 h 00 min" in m.text and "Time left: 22 h 00 min" in m.text
    assert "/console/" not in m.text  # no public_url given


def test_the_6_hour_alert_follows_the_24_hour_one(container: Container) -> None:
    _register(container, hours_ago=50)
    assert _alerts(container) == 1
    assert _alerts(container, now=NOW + timedelta(hours=16, minutes=1)) == 1  # 5 h 59 min left
    assert _alerts(container, now=NOW + timedelta(hours=17)) == 0
    with container.read_sessions() as session:
        keys = sorted(session.scalars(select(StaffAlert.key)))
    assert [k.split(":")[2] for k in keys] == ["24h", "6h"]
    assert len(_mail(container)) == 2


def test_a_breach_first_seen_67_hours_old_gets_one_alert_saying_how_little_is_left(
    container: Container,
) -> None:
    _register(container, hours_ago=67)
    assert _alerts(container, console_url="https://sargs.example.lv/") == 1
    assert _alerts(container) == 0
    (m,) = _mail(container)
    assert "5 h 00 min" in m.subject
    assert "https://sargs.example.lv/console/breaches/" in m.text


def test_an_overdue_breach_gets_one_alert_saying_the_deadline_passed(container: Container) -> None:
    _register(container, hours_ago=80)
    assert _alerts(container) == 1
    assert _alerts(container) == 0
    (m,) = _mail(container)
    assert "Nokavēts par: 8 h 00 min" in m.text and "Overdue by: 8 h 00 min" in m.text
    assert m.subject == SUBJECT_OVERDUE["lv"].format(
        title="Loyalty database copied by an intruder", name="LMT", left="8 h 00 min", hours=72
    )


def test_a_young_breach_gets_no_alert_yet(container: Container) -> None:
    _register(container, hours_ago=10)
    assert _alerts(container) == 0
    assert _mail(container) == []


def test_a_breach_notified_to_the_authority_or_needing_no_notification_gets_none(
    container: Container,
) -> None:
    notified = _register(container, hours_ago=50)
    no_risk = _register(container, hours_ago=50, title="Misdirected internal memo")
    with container.sessions.begin() as session:
        for breach_id, risk in ((notified, "risk"), (no_risk, "none")):
            breaches.assess_breach(
                session=session,
                registry=container.registry,
                breach_id=breach_id,
                risk=risk,
                reasoning="Assessed by the DPO with the IT team.",
                by=DPO,
                now=NOW,
            )
        breaches.file_notification(
            session=session,
            registry=container.registry,
            breach_id=notified,
            phase="initial",
            by=DPO,
            now=NOW,
            content={},
        )
    assert _alerts(container) == 0
    assert _mail(container) == []


def test_the_alert_goes_to_the_dpo_from_the_policy_and_waits_while_nobody_can_be_told(
    container: Container,
) -> None:
    _register(container, hours_ago=50)
    assert _alerts(container, configured=()) == 0  # the example LMT has no DPO or contact e-mail
    with container.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(StaffAlert)) == 0
    policy = container.registry.policy_for("lmt")
    controllers = [
        c.model_copy(update={"dpo": Contact(email="dpo@lmt.lv")}) if c.id == "lmt" else c
        for c in policy.controllers
    ]
    registry = PolicyRegistry(
        [
            policy.model_copy(update={"controllers": controllers}),
            *[p for p in container.registry.policies if p is not policy],
        ]
    )
    assert _alerts(container, configured=(), registry=registry) == 1
    assert [m.to_address for m in _mail(container)] == ["dpo@lmt.lv"]


def test_two_workers_at_once_queue_one_alert(container: Container) -> None:
    _register(container, hours_ago=50)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(_alerts(container))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [0, 1]
    assert len(_mail(container)) == 1


def test_alert_texts_exist_in_latvian_and_english() -> None:
    from sargs.domains.breaches import alerts

    for name in dir(alerts):
        value = getattr(alerts, name)
        if name.isupper() and isinstance(value, dict):
            assert set(value) == {"lv", "en"}, name
            assert all(isinstance(v, str) and v.strip() for v in value.values()), name
    assert SUBJECT["lv"] != SUBJECT["en"]
