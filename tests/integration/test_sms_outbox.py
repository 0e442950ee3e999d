"""The SMS outbox on a real database (R-SMS-3): a message is sent once, transient failures are
retried after a backoff, permanent ones and too many attempts give up, a crashed worker's lease
runs out and the message goes again under the same reference, numbers and one-time codes are
forgotten once done, and two workers on one backlog send every message exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sargs.core.clock import FixedClock
from sargs.domains.delivery import LEASE, MAX_ATTEMPTS, backoff
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.outbox import (
    Claimed,
    DeliveryReport,
    Queued,
    claim,
    deliver_due,
    enqueue,
    status_counts,
)
from sargs.domains.sms.ports import PermanentSendError, SendError, TransientSendError
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.helpers import requires_postgres

PHONE = "+37129000701"
SHORT_NUMBER = "29307777"
REPLY = "LMT: paldies, piekrisana JAUNUMI sanemta. Lai atsauktu, suti JAUNUMI STOP uz 29307777"
CODE_TEXT = "Your Sargs code: 493817. Valid for 10 minutes. Do not share it."
CODE_REMOVED = "(one-time code, removed after sending)"


@dataclass(frozen=True)
class Call:
    to: str
    sender: str | None
    text: str
    reference: str


class FakeSmsSender:
    """Records every send; raises the errors it was told to for given attempts. Thread-safe."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.calls: list[Call] = []
        self.delay = delay
        self._plan: dict[tuple[str, int], SendError] = {}
        self._lock = threading.Lock()

    def fail(self, error: SendError, *, reference: str = "*", attempt: int = 0) -> None:
        """Raise `error` on that attempt (1-based, per reference; 0: every attempt)."""
        self._plan[(reference, attempt)] = error

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        with self._lock:
            self.calls.append(Call(to, sender, text, reference))
            attempt = sum(1 for c in self.calls if c.reference == reference)
        if self.delay:
            time.sleep(self.delay)
        for key in ((reference, attempt), (reference, 0), ("*", attempt), ("*", 0)):
            if key in self._plan:
                raise self._plan[key]
        return f"prov-{reference[:8]}-{attempt}"

    def references(self) -> list[str]:
        with self._lock:
            return [c.reference for c in self.calls]


def queue(
    container: Container,
    *,
    to: str = PHONE,
    text: str = REPLY,
    kind: str = "reply",
    sender: str = SHORT_NUMBER,
) -> str:
    with container.sessions.begin() as session:
        return enqueue(
            session=session, to=to, text=text, kind=kind, now=container.clock.now(), sender=sender
        ).id


def deliver(container: Container, sender: FakeSmsSender, **kwargs: int) -> DeliveryReport:
    return deliver_due(sessions=container.sessions, sender=sender, now=container.clock.now, **kwargs)


def row(container: Container, outbox_id: str) -> SmsOutbox:
    with container.read_sessions.begin() as session:
        found = session.get(SmsOutbox, outbox_id)
        assert found is not None
        return found


def summary(report: DeliveryReport) -> tuple[int, int, int]:
    return report.sent, report.retried, report.failed


# --- sending once ----------------------------------------------------------------------------------


def test_a_queued_message_is_sent_once_marked_sent_and_its_number_cleared(container: Container) -> None:
    outbox_id = queue(container)
    sender = FakeSmsSender()

    report = deliver(container, sender)

    assert summary(report) == (1, 0, 0) and report.errors == [] and report.handled == 1
    assert sender.calls == [Call(PHONE, SHORT_NUMBER, REPLY, outbox_id)]
    sent = row(container, outbox_id)
    assert (sent.status, sent.provider_message_id, sent.to_number) == (
        "sent",
        f"prov-{outbox_id[:8]}-1",
        None,
    )
    assert (sent.attempts, sent.sent_at, sent.last_error) == (1, NOW, None)
    assert sent.text == REPLY  # a reply keeps its text; only codes are blanked


def test_delivering_again_sends_nothing_more(container: Container, clock: FixedClock) -> None:
    queue(container)
    sender = FakeSmsSender()
    deliver(container, sender)

    again = deliver(container, sender)
    clock.advance(seconds=(LEASE + timedelta(days=1)).total_seconds())
    later = deliver(container, sender)

    assert summary(again) == summary(later) == (0, 0, 0)
    assert len(sender.calls) == 1


# --- retries -----------------------------------------------------------------------------------------


def test_backoff_doubles_from_fifteen_seconds_and_stops_at_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(0, 10)] == [
        15,
        15,
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert backoff(40) == timedelta(hours=1)


def test_a_transient_failure_is_retried_only_after_the_backoff(
    container: Container, clock: FixedClock
) -> None:
    outbox_id = queue(container)
    sender = FakeSmsSender()
    sender.fail(TransientSendError("provider answered 503"), attempt=1)

    first = deliver(container, sender)

    assert summary(first) == (0, 1, 0) and first.errors == []
    waiting = row(container, outbox_id)
    assert (waiting.status, waiting.attempts, waiting.last_error) == ("queued", 1, "provider answered 503")
    assert waiting.next_attempt_at == NOW + timedelta(seconds=15)
    assert waiting.to_number == PHONE  # still needed for the retry

    clock.advance(seconds=14)
    assert summary(deliver(container, sender)) == (0, 0, 0)
    assert len(sender.calls) == 1

    clock.advance(seconds=1)
    second = deliver(container, sender)

    assert summary(second) == (1, 0, 0)
    assert sender.references() == [outbox_id, outbox_id]
    sent = row(container, outbox_id)
    assert (sent.status, sent.attempts, sent.provider_message_id) == ("sent", 2, f"prov-{outbox_id[:8]}-2")
    assert sent.last_error == "provider answered 503"  # the last failure is kept for the record
    assert (sent.to_number, sent.sent_at) == (None, NOW + timedelta(seconds=15))


def test_after_max_attempts_of_transient_failures_the_message_is_failed_and_its_number_cleared(
    container: Container, clock: FixedClock
) -> None:
    outbox_id = queue(container)
    sender = FakeSmsSender()
    sender.fail(TransientSendError("provider timed out: ReadTimeout"))

    for attempt in range(1, MAX_ATTEMPTS):
        report = deliver(container, sender)
        assert summary(report) == (0, 1, 0), attempt
        waiting = row(container, outbox_id)
        assert (waiting.status, waiting.attempts, waiting.to_number) == ("queued", attempt, PHONE)
        assert waiting.next_attempt_at == clock.now() + backoff(attempt)
        clock.advance(seconds=backoff(attempt).total_seconds())

    last = deliver(container, sender)

    reason = f"gave up after {MAX_ATTEMPTS} attempts: provider timed out: ReadTimeout"
    assert summary(last) == (0, 0, 1)
    assert last.errors == [f"{outbox_id}: {reason}"]
    failed = row(container, outbox_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", MAX_ATTEMPTS, reason)
    assert (failed.to_number, failed.sent_at, failed.provider_message_id) == (None, None, None)
    assert len(sender.calls) == MAX_ATTEMPTS == 8

    clock.advance(days=2)
    assert summary(deliver(container, sender)) == (0, 0, 0)
    assert len(sender.calls) == MAX_ATTEMPTS


def test_a_permanent_failure_is_failed_at_once(container: Container, clock: FixedClock) -> None:
    outbox_id = queue(container)
    sender = FakeSmsSender()
    sender.fail(PermanentSendError("provider refused the message: 400 invalid number"))

    report = deliver(container, sender)

    assert summary(report) == (0, 0, 1)
    assert report.errors == [f"{outbox_id}: provider refused the message: 400 invalid number"]
    failed = row(container, outbox_id)
    assert (failed.status, failed.attempts, failed.to_number) == ("failed", 1, None)
    assert failed.last_error == "provider refused the message: 400 invalid number"
    clock.advance(days=2)
    assert summary(deliver(container, sender)) == (0, 0, 0)
    assert len(sender.calls) == 1


# --- crashes and leases ------------------------------------------------------------------------------


def test_a_message_claimed_by_a_crashed_worker_goes_again_after_the_lease_with_the_same_reference(
    container: Container, clock: FixedClock
) -> None:
    outbox_id = queue(container)
    with container.sessions.begin() as session:  # the worker claims, commits ... and dies
        claimed = claim(session=session, now=clock.now(), limit=10)
    assert claimed == [Claimed(outbox_id, PHONE, SHORT_NUMBER, REPLY, 1)]
    leased = row(container, outbox_id)
    assert (leased.status, leased.attempts, leased.next_attempt_at) == ("sending", 1, NOW + LEASE)
    sender = FakeSmsSender()

    assert summary(deliver(container, sender)) == (0, 0, 0)
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert summary(deliver(container, sender)) == (0, 0, 0)
    assert sender.calls == []

    clock.advance(seconds=1)
    report = deliver(container, sender)

    assert summary(report) == (1, 0, 0)
    assert sender.calls == [Call(PHONE, SHORT_NUMBER, REPLY, outbox_id)]
    sent = row(container, outbox_id)
    assert (sent.status, sent.attempts, sent.to_number) == ("sent", 2, None)


def test_a_claimed_message_is_not_claimed_again_while_its_lease_lasts(container: Container) -> None:
    first, second = queue(container), queue(container)
    with container.sessions.begin() as session:
        one = claim(session=session, now=NOW, limit=1)
    with container.sessions.begin() as session:
        rest = claim(session=session, now=NOW, limit=10)
    with container.sessions.begin() as session:
        none = claim(session=session, now=NOW + LEASE - timedelta(microseconds=1), limit=10)
    assert {one[0].id, rest[0].id} == {first, second} and len(one) == len(rest) == 1
    assert none == []


# --- one-time codes ------------------------------------------------------------------------------------


def test_a_code_message_is_sent_with_its_code_and_its_text_replaced_afterwards(container: Container) -> None:
    outbox_id = queue(container, text=CODE_TEXT, kind="code", sender=SHORT_NUMBER)
    assert row(container, outbox_id).text == CODE_TEXT
    sender = FakeSmsSender()

    assert summary(deliver(container, sender)) == (1, 0, 0)

    assert [c.text for c in sender.calls] == [CODE_TEXT]
    done = row(container, outbox_id)
    assert (done.status, done.text, done.to_number) == ("sent", CODE_REMOVED, None)


def test_a_code_that_cannot_be_delivered_is_forgotten_too(container: Container) -> None:
    outbox_id = queue(container, text=CODE_TEXT, kind="code")
    sender = FakeSmsSender()
    sender.fail(PermanentSendError("number not in service"))

    assert summary(deliver(container, sender)) == (0, 0, 1)

    done = row(container, outbox_id)
    assert (done.status, done.text, done.to_number, done.last_error) == (
        "failed",
        CODE_REMOVED,
        None,
        "number not in service",
    )


def test_a_code_waiting_for_a_retry_keeps_its_text(container: Container) -> None:
    outbox_id = queue(container, text=CODE_TEXT, kind="code")
    sender = FakeSmsSender()
    sender.fail(TransientSendError("provider answered 500"), attempt=1)

    assert summary(deliver(container, sender)) == (0, 1, 0)

    waiting = row(container, outbox_id)
    assert (waiting.status, waiting.text, waiting.to_number) == ("queued", CODE_TEXT, PHONE)


# --- enqueue and segments -----------------------------------------------------------------------------

LATVIAN = "Paldies! Jūs esat pierakstījies jaunumu saņemšanai. Lai atteiktos, sūtiet JAUNUMI STOP uz 1800."
LATVIAN_PLAIN = (
    "Paldies! Jus esat pierakstijies jaunumu sanemsanai. Lai atteiktos, sutiet JAUNUMI STOP uz 1800."
)
LATVIAN_SHORT = "Jūsu kods: 493817. Derīgs 10 minūtes."


def enqueue_one(container: Container, text_: str) -> tuple[Queued, SmsOutbox]:
    with container.sessions.begin() as session:
        queued = enqueue(session=session, to=PHONE, text=text_, kind="reply", now=NOW, sender=SHORT_NUMBER)
    return queued, row(container, queued.id)


def test_enqueue_transliterates_latvian_that_would_need_two_ucs2_segments_into_one_gsm7_segment(
    container: Container,
) -> None:
    assert 70 < len(LATVIAN) <= 134  # two UCS-2 segments as written

    queued, stored = enqueue_one(container, LATVIAN)

    assert (queued.text, queued.segments) == (LATVIAN_PLAIN, 1)
    assert (stored.text, stored.encoding, stored.segments) == (LATVIAN_PLAIN, "GSM-7", 1)
    assert (stored.status, stored.attempts, stored.next_attempt_at, stored.created_at) == (
        "queued",
        0,
        NOW,
        NOW,
    )
    assert (stored.kind, stored.to_number, stored.sender) == ("reply", PHONE, SHORT_NUMBER)


def test_enqueue_keeps_latvian_that_fits_one_ucs2_segment_as_written(container: Container) -> None:
    queued, stored = enqueue_one(container, LATVIAN_SHORT)

    assert (queued.text, queued.segments) == (LATVIAN_SHORT, 1)
    assert (stored.text, stored.encoding, stored.segments) == (LATVIAN_SHORT, "UCS-2", 1)


def test_enqueue_refuses_an_unknown_kind(container: Container) -> None:
    with container.sessions.begin() as session, pytest.raises(ValueError, match="kind must be one of"):
        enqueue(session=session, to=PHONE, text="x", kind="promo", now=NOW)


# --- two workers ------------------------------------------------------------------------------------

BACKLOG = 50


def test_two_workers_on_one_backlog_send_every_message_exactly_once(container: Container) -> None:
    with container.sessions.begin() as session:
        ids = {
            enqueue(session=session, to=f"+3712900{i:04d}", text=f"Message {i}", kind="notice", now=NOW).id
            for i in range(BACKLOG)
        }
    sender = FakeSmsSender(delay=0.005)
    start = threading.Barrier(2)
    sent_by: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            total = 0
            while True:
                report = deliver_due(
                    sessions=container.sessions, sender=sender, now=container.clock.now, limit=5
                )
                total += report.sent
                assert report.retried == report.failed == 0
                if not report.handled:
                    break
            sent_by[name] = total
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    references = Counter(sender.references())
    assert set(references) == ids and set(references.values()) == {1}
    assert sum(sent_by.values()) == BACKLOG
    assert sent_by["a"] > 0 and sent_by["b"] > 0  # both workers really took part
    with container.read_sessions.begin() as session:
        assert status_counts(session=session) == {"sent": BACKLOG}
        assert set(session.scalars(select(SmsOutbox.attempts))) == {1}


@requires_postgres
def test_on_postgresql_a_claim_skips_rows_another_worker_has_locked(container: Container) -> None:
    with container.sessions.begin() as session:
        ids = {enqueue(session=session, to=PHONE, text=f"m{i}", kind="notice", now=NOW).id for i in range(6)}
    holder: Session = container.sessions()
    try:
        with holder.begin():
            held = claim(session=holder, now=NOW, limit=3)  # locked, not yet committed
            with container.sessions.begin() as other:
                other.execute(text("SET LOCAL lock_timeout = '2s'"))
                skipped_to = claim(session=other, now=NOW, limit=3)
            assert len(held) == len(skipped_to) == 3
            assert {c.id for c in held} | {c.id for c in skipped_to} == ids
    finally:
        holder.close()


# --- counts --------------------------------------------------------------------------------------------


def test_status_counts_tells_how_many_messages_are_in_each_state(container: Container) -> None:
    with container.read_sessions.begin() as session:
        assert status_counts(session=session) == {}
    queue(container)
    refused, flaky = queue(container), queue(container)
    sender = FakeSmsSender()
    sender.fail(PermanentSendError("invalid number"), reference=refused)
    sender.fail(TransientSendError("provider answered 502"), reference=flaky)
    assert summary(deliver(container, sender)) == (1, 1, 1)
    leased = queue(container)
    with container.sessions.begin() as session:
        assert [c.id for c in claim(session=session, now=NOW, limit=10)] == [leased]

    with container.read_sessions.begin() as session:
        counts = status_counts(session=session)

    assert counts == {"sent": 1, "failed": 1, "queued": 1, "sending": 1}


# --- leases that run out --------------------------------------------------------------------------


class ExplodingSender(FakeSmsSender):
    """An adapter that fails in a way it did not plan for (e.g. a broken gzip body)."""

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        super().send(to=to, sender=sender, text=text, reference=reference)
        raise ValueError("broken body")


def test_an_adapters_unexpected_error_is_retried_and_does_not_stop_the_batch(
    container: Container, clock: FixedClock
) -> None:
    first, second = queue(container), queue(container)
    report = deliver(container, ExplodingSender())
    assert summary(report) == (0, 2, 0)
    for outbox_id in (first, second):
        stored = row(container, outbox_id)
        assert (stored.status, stored.last_error) == (
            "queued",
            "unexpected ValueError",
        )  # its text may quote the message: not kept
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        deliver(container, ExplodingSender())
    stored = row(container, first)
    assert stored.status == "failed" and stored.last_error is not None
    assert stored.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts: unexpected ValueError")


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_next_claim(
    container: Container, clock: FixedClock
) -> None:
    outbox_id = queue(container)
    with container.sessions.begin() as session:  # worker A claims, then stalls past its lease
        (stale,) = claim(session=session, now=clock.now(), limit=1)
    clock.advance(seconds=LEASE.total_seconds())
    assert summary(deliver(container, FakeSmsSender())) == (1, 0, 0)  # worker B sends it
    from sargs.domains.sms.outbox import _finish

    with container.sessions.begin() as session:  # A wakes up and reports a transient failure
        assert _finish(session, stale, status="queued", next_attempt_at=clock.now()) is False
    stored = row(container, outbox_id)
    assert (stored.status, stored.attempts) == ("sent", 2)


def test_a_slow_provider_cannot_push_a_batch_past_its_lease(container: Container) -> None:
    ids = [queue(container) for _ in range(3)]
    moments = iter([NOW, NOW, NOW + LEASE - timedelta(seconds=29)])
    calls: list[str] = []

    class Slow(FakeSmsSender):
        def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
            calls.append(reference)
            return "ok"

    def now() -> datetime:  # claim at NOW; the first send begins at NOW; then the clock has run on
        return next(moments, NOW + LEASE)

    report = deliver_due(sessions=container.sessions, sender=Slow(), now=now, limit=10)
    assert report.sent == 1 and len(calls) == 1
    left = [row(container, i) for i in ids if i not in calls]
    assert [r.status for r in left] == ["sending", "sending"]  # picked up again after the lease
