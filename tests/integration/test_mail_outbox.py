"""The shared e-mail outbox: bad input is refused before anything is queued; transient failures
are retried with backoff and permanent ones end the message; addresses are forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sargs.core.clock import FixedClock
from sargs.core.errors import InvalidInput
from sargs.domains.mail.model import MailOutbox
from sargs.domains.mail.outbox import deliver_due, enqueue
from sargs.domains.mail.ports import PermanentMailError, TransientMailError
from sargs.entrypoints.container import Container

GOOD: dict[str, Any] = {"to": "anna@example.lv", "subject": "Paziņojums", "text": "Teksts", "kind": "breach"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to": "anna@example.lv, eve@example.com"}, "to"),
        ({"to": "anna@example.lv\r\nBcc: eve@example.com"}, "to"),
        ({"subject": "Hi\r\nBcc: eve@example.com"}, "subject"),
        ({"subject": " "}, "subject"),
        ({"kind": "spam"}, "kind"),
        ({"headers": {"Bcc": "eve@example.com"}}, "headers"),
        ({"headers": {"X-Note": "a\nb"}}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_queued(
    container: Container, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught, container.sessions.begin() as s:
        enqueue(session=s, now=container.clock.now(), **{**GOOD, **change})
    assert caught.value.details["field"] == field
    with container.read_sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(MailOutbox)) == 0


class Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls: list[dict[str, Any]] = []

    def deliver(self, **message: Any) -> str:
        self.calls.append(message)
        if self.errors:
            raise self.errors.pop(0)
        return f"<{message['reference']}@test>"


def test_a_transient_failure_is_retried_after_backoff_with_the_same_headers(
    container: Container, clock: FixedClock
) -> None:
    with container.sessions.begin() as s:
        outbox_id = enqueue(
            session=s, now=clock.now(), headers={"List-Unsubscribe": "<https://x/u/t>"}, **GOOD
        )
    sender = Flaky([TransientMailError("421 try later")])
    assert deliver_due(sessions=container.sessions, sender=sender, now=clock.now).retried == 1
    assert deliver_due(sessions=container.sessions, sender=sender, now=clock.now).handled == 0  # not yet due
    clock.advance(seconds=16)
    assert deliver_due(sessions=container.sessions, sender=sender, now=clock.now).sent == 1
    assert [c["headers"] for c in sender.calls] == [{"List-Unsubscribe": "<https://x/u/t>"}] * 2
    assert {c["reference"] for c in sender.calls} == {outbox_id}
    with container.read_sessions.begin() as s:
        row = s.get(MailOutbox, outbox_id)
        assert row is not None and (row.status, row.attempts, row.to_address) == ("sent", 2, None)


def test_a_permanent_failure_ends_the_message_and_forgets_the_address(
    container: Container, clock: FixedClock
) -> None:
    with container.sessions.begin() as s:
        enqueue(session=s, now=clock.now(), **GOOD)
    report = deliver_due(sessions=container.sessions, sender=Flaky([PermanentMailError("550 no such user")]),
                         now=clock.now)  # fmt: skip
    assert report.failed == 1
    clock.advance(hours=2)
    assert deliver_due(sessions=container.sessions, sender=Flaky([]), now=clock.now).handled == 0
    with container.read_sessions.begin() as s:
        row = s.scalars(select(MailOutbox)).one()
    assert (row.status, row.to_address, row.last_error) == ("failed", None, "550 no such user")


def test_a_worker_that_died_mid_batch_has_its_messages_sent_after_the_lease(
    container: Container, clock: FixedClock
) -> None:
    from sargs.domains.mail.outbox import claim

    with container.sessions.begin() as s:
        enqueue(session=s, now=clock.now(), **GOOD)
    with container.sessions.begin() as s:
        assert len(claim(session=s, now=clock.now(), limit=10)) == 1  # ... and the worker dies here
    assert deliver_due(sessions=container.sessions, sender=Flaky([]), now=clock.now).handled == 0
    clock.advance(seconds=121)
    assert (
        deliver_due(
            sessions=container.sessions, sender=Flaky([]), now=clock.now, lease=timedelta(minutes=2)
        ).sent
        == 1
    )
