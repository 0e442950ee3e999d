"""Notices of a new policy version (retailer 7.2): everyone the controllers hold is told once per version."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sargs.domains.policy.notices import notices_sent, notify_policy_version, review_due
from sargs.domains.policy.schema import Policy
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import get_or_create_subject, set_client_group
from sargs.entrypoints.container import Container
from tests.conftest import NOW


class FakeMail:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def enqueue(
        self,
        *,
        session: Session,
        to: str,
        subject: str,
        text: str,
        headers: dict[str, str],
        kind: str,
        now: datetime,
        subject_id: str | None = None,
    ) -> str:
        self.sent.append((to, text))
        return f"m{len(self.sent)}"


def _people(container: Container) -> None:
    with container.sessions.begin() as session:
        for identity, controller, group in (
            (Identity("msisdn", "+37129000801"), "lytagra-lv", "client"),
            (Identity("email", "ieva@example.lv"), "lytagra-lv", "client"),
            (Identity("msisdn", "+37129000802"), "lmt", "own"),  # another policy's person
        ):
            get_or_create_subject(
                session=session, identity=identity, controller=controller, default_group=group, now=NOW
            )
        # one person at two controllers of the same policy is told once
        first = get_or_create_subject(
            session=session,
            identity=Identity("msisdn", "+37129000801"),
            controller="lytagra-lv",
            default_group="client",
            now=NOW,
        )[0]
        set_client_group(
            session=session, subject_id=first, controller="vilniaus-lytagra", group="client", now=NOW
        )


def _policy(container: Container, policy_id: str) -> Policy:
    return next(p for p in container.registry.policies if p.id == policy_id)


def test_every_person_of_the_policys_controllers_is_told_once_per_version(container: Container) -> None:
    _people(container)
    policy = _policy(container, "lytagra-group")
    mail = FakeMail()
    report = notify_policy_version(
        sessions=container.sessions, policy=policy, secret=b"k", now=container.clock.now, mail=mail, batch=1
    )
    assert (report.sms, report.email, report.already) == (1, 1, 0)
    assert mail.sent[0][0] == "ieva@example.lv" and "privātuma politika atjaunota" in mail.sent[0][1]
    again = notify_policy_version(
        sessions=container.sessions, policy=policy, secret=b"k", now=container.clock.now, mail=mail
    )
    assert (again.sms, again.email, again.already) == (0, 0, 2)
    with container.read_sessions.begin() as session:
        texts = list(session.scalars(select(SmsOutbox.text).where(SmsOutbox.kind == "notice")))
        assert len(texts) == 1 and policy.version in texts[0]
        assert notices_sent(session=session, policy_id=policy.id, version=policy.version) == 2


def test_a_new_version_is_told_again(container: Container) -> None:
    _people(container)
    policy = _policy(container, "lytagra-group")
    notify_policy_version(
        sessions=container.sessions, policy=policy, secret=b"k", now=container.clock.now, mail=FakeMail()
    )
    data = policy.model_dump()
    data["policy"]["version"] = "2026-12"
    newer = Policy.model_validate(data)
    report = notify_policy_version(
        sessions=container.sessions, policy=newer, secret=b"k", now=container.clock.now, mail=FakeMail()
    )
    assert report.queued == 2
    with container.read_sessions.begin() as session:
        assert (
            session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.kind == "notice")) == 2
        )


def test_review_falls_due_after_the_policys_interval() -> None:
    assert review_due(published=date(2018, 6, 1), months=24) == date(2020, 6, 1)
    assert review_due(published=date(2021, 1, 31), months=13) == date(2022, 2, 28)
