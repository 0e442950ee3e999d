"""Concurrent deliveries (R-SMS-2): a provider retrying the same message while the first delivery
is still in flight changes nothing twice, and a new number texting several keywords at once
becomes one subject with an intact chain. Real threads on a real database (PostgreSQL in CI)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.sms.service import InboundMessage, InboundResult, handle_inbound
from sargs.domains.subjects.model import SubjectIdentity
from sargs.entrypoints.container import Container

THREADS = 8


def run_at_once(work: Callable[[int], InboundResult], n: int = THREADS) -> list[InboundResult]:
    barrier = threading.Barrier(n)
    results: list[InboundResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == n
    return results


def deliver(container: Container, msg: InboundMessage) -> InboundResult:
    with container.sessions.begin() as session:
        return handle_inbound(session=session, directory=container.sms, msg=msg, now=container.clock.now())


def count(container: Container, model: type) -> int:
    with container.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_concurrent_duplicate_deliveries_record_one_event_and_one_reply(container: Container) -> None:
    msg = InboundMessage(
        provider="json", message_id="dup-1", sender="+37126000111", to="29307777", text="JAUNUMI"
    )
    results = run_at_once(lambda _i: deliver(container, msg))
    fresh = [r for r in results if not r.duplicate]
    assert len(fresh) == 1
    assert {r.inbound_id for r in results} == {fresh[0].inbound_id}
    assert {tuple(r.event_ids) for r in results} == {tuple(fresh[0].event_ids)}
    assert {r.reply_text for r in results} == {fresh[0].reply_text}
    assert fresh[0].outcome == "granted"
    assert (count(container, SmsInbound), count(container, SmsOutbox), count(container, ConsentEvent)) == (
        1,
        1,
        1,
    )
    with container.sessions.begin() as session:
        assert verify_ledger(session=session).ok


def test_a_new_number_texting_many_keywords_at_once_is_one_subject(container: Container) -> None:
    texts = ["JAUNUMI", "JAUNUMI STOP", "JAUNUMI", "METADATI", "STOP", "JAUNUMI", "HELP", "JAUNUMI STOP"]

    def work(i: int) -> InboundResult:
        msg = InboundMessage(
            provider="json", message_id=f"many-{i}", sender="+37126000222", to="29307777", text=texts[i]
        )
        return deliver(container, msg)

    results = run_at_once(work, n=len(texts))
    assert all(not r.duplicate for r in results)
    assert len({r.subject_id for r in results}) == 1
    assert count(container, SubjectIdentity) == 1
    assert count(container, SmsInbound) == count(container, SmsOutbox) == len(texts)
    with container.sessions.begin() as session:
        report = verify_ledger(session=session)
    assert report.ok, report.problems
    # Every grant/withdraw of JAUNUMI landed (METADATI is refused: a stranger is not an LMT client).
    jaunumi = sum(1 for r in results if r.keyword == "JAUNUMI")
    stop_all = sum(len(r.event_ids) for r in results if r.command == "stop_all")
    assert count(container, ConsentEvent) == jaunumi + stop_all
