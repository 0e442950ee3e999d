"""Concurrency (issue 7): the same one-click unsubscribe posted many times at once withdraws once,
and two mail workers never send one message twice. Real threads on a real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from sargs.domains.consent.service import Actor, history, record_consent
from sargs.domains.mail.campaign import set_subscription
from sargs.domains.mail.links import LinkPayload
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.outbox import deliver_due, enqueue
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container

THREADS = 8


def at_once(work: Callable[[int], Any], n: int = THREADS) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_one_click_unsubscribe_posted_many_times_at_once_withdraws_once(container: Container) -> None:
    with container.sessions.begin() as s:
        anna = create_subject(
            session=s, identities=[Identity("email", "anna@example.lv")], now=container.clock.now()
        )
        record_consent(
            session=s, registry=container.registry, subject_id=anna, controller="lmt", purpose="email-tracking",
            action="grant", channel="portal", actor=Actor("subject", anna), now=container.clock.now(),
        )  # fmt: skip
    link = LinkPayload("u", anna, "m" * 32, "lmt", purpose="email-tracking")

    def unsubscribe(_: int) -> None:
        with container.sessions.begin() as s:
            set_subscription(session=s, registry=container.registry, link=link, subscribe=False,
                             now=container.clock.now())  # fmt: skip

    at_once(unsubscribe)
    with container.read_sessions.begin() as s:
        assert [e.action for e in history(session=s, subject_id=anna)] == ["grant", "withdraw"]


class SlowSender:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def deliver(self, *, to: str, subject: str, text: str, html: str | None, headers: dict[str, str],
                reference: str) -> str:  # fmt: skip
        time.sleep(0.01)
        with self.lock:
            self.sent.append(reference)
        return f"<{reference}@test>"


def test_two_mail_workers_never_send_one_message_twice(container: Container) -> None:
    with container.sessions.begin() as s:
        for i in range(30):
            enqueue(session=s, to=f"p{i}@example.lv", subject="Paziņojums", text="Teksts", kind="notice",
                    now=container.clock.now())  # fmt: skip
    sender = SlowSender()

    def work(_: int) -> None:
        while deliver_due(
            sessions=container.sessions, sender=sender, now=container.clock.now, limit=5
        ).handled:
            pass

    at_once(work, n=2)
    assert len(sender.sent) == 30 and len(set(sender.sent)) == 30
    with container.read_sessions.begin() as s:
        rows = s.scalars(select(MailOutbox)).all()
    assert {r.status for r in rows} == {"sent"} and {r.to_address for r in rows} == {None}
