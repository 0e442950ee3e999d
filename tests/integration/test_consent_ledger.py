"""The consent ledger against a real database (SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState
from sargs.domains.consent.service import Actor, history, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectIdentity
from sargs.domains.subjects.service import create_subject, find_subject_id
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.helpers import requires_postgres

ACTOR = Actor("system", "test")


def new_subject(container: Container, msisdn: str = "+37129000001", group: str = "own") -> str:
    with container.sessions.begin() as s:
        return create_subject(
            session=s, identities=[Identity("msisdn", msisdn)], now=NOW, groups={"lmt": group}
        )


def record(
    container: Container, subject_id: str, action: str = "grant", purpose: str = "offers", **kw: object
):  # type: ignore[no-untyped-def]
    with container.sessions.begin() as s:
        return record_consent(
            session=s,
            registry=container.registry,
            subject_id=subject_id,
            controller=kw.pop("controller", "lmt"),  # type: ignore[arg-type]
            purpose=purpose,
            action=action,
            channel=kw.pop("channel", "sms"),  # type: ignore[arg-type]
            actor=ACTOR,
            now=kw.pop("now", NOW),  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )


def verify(container: Container):  # type: ignore[no-untyped-def]
    with container.read_sessions.begin() as s:
        return verify_ledger(session=s)


def test_grant_then_withdraw_keeps_earlier_processing_lawful(container: Container) -> None:
    sid = new_subject(container)
    granted_at = NOW - timedelta(days=10)
    withdrawn_at = NOW - timedelta(days=2)
    record(container, sid, "grant", occurred_at=granted_at)
    record(container, sid, "withdraw", occurred_at=withdrawn_at)
    with container.read_sessions.begin() as s:
        assert not check_consent(
            session=s,
            subject_id=sid,
            controller="lmt",
            purpose="offers",
            at=granted_at - timedelta(seconds=1),
        ).allowed
        during = check_consent(
            session=s, subject_id=sid, controller="lmt", purpose="offers", at=NOW - timedelta(days=5)
        )
        assert during.allowed and during.status == "granted" and during.since == granted_at
        exactly_at_withdrawal = check_consent(
            session=s, subject_id=sid, controller="lmt", purpose="offers", at=withdrawn_at
        )
        assert not exactly_at_withdrawal.allowed and exactly_at_withdrawal.status == "withdrawn"
        current = check_consent(session=s, subject_id=sid, controller="lmt", purpose="offers")
        assert not current.allowed and current.status == "withdrawn"
        assert [e.action for e in history(session=s, subject_id=sid)] == ["grant", "withdraw"]


def test_backdated_event_joins_history_without_overriding_newer_state(container: Container) -> None:
    sid = new_subject(container)
    record(container, sid, "grant", occurred_at=NOW - timedelta(days=1))
    record(container, sid, "withdraw", occurred_at=NOW - timedelta(days=30))  # a paper form entered late
    with container.read_sessions.begin() as s:
        assert check_consent(session=s, subject_id=sid, controller="lmt", purpose="offers").allowed
        assert not check_consent(
            session=s, subject_id=sid, controller="lmt", purpose="offers", at=NOW - timedelta(days=20)
        ).allowed
    assert verify(container).ok


def test_other_operators_client_is_refused_metadati_and_the_refusal_is_recorded(container: Container) -> None:
    sid = new_subject(container, group="other_operator")
    outcome = record(container, sid, "grant", purpose="metadata")
    assert outcome.event is None and outcome.rejection is not None
    assert outcome.rejection.reason == "not_eligible"
    assert "LMT clients" in outcome.rejection.message
    with container.read_sessions.begin() as s:
        assert (
            s.scalar(select(ConsentRejection.reason).where(ConsentRejection.subject_id == sid))
            == "not_eligible"
        )
        assert s.get(ConsentState, (sid, "lmt", "metadata")) is None
    # JAUNUMI is open to other operators' clients too.
    assert record(container, sid, "grant", purpose="offers").event is not None


def test_withdrawal_is_always_possible_even_when_a_grant_would_be_refused(container: Container) -> None:
    sid = new_subject(container, group="other_operator")
    assert record(container, sid, "withdraw", purpose="metadata").event is not None


def test_unknown_purpose_or_disallowed_channel_is_invalid_and_writes_nothing(container: Container) -> None:
    sid = new_subject(container)
    with pytest.raises(InvalidInput, match="no purpose 'nope'"):
        record(container, sid, purpose="nope")
    with pytest.raises(InvalidInput, match="channel 'post'"):
        record(container, sid, channel="post")
    with pytest.raises(InvalidInput, match="contract, not consent"):
        record(container, sid, purpose="service", channel="api")
    with pytest.raises(InvalidInput, match="future"):
        record(container, sid, occurred_at=NOW + timedelta(hours=1))
    with container.read_sessions.begin() as s:
        assert s.scalar(select(ConsentEvent.seq)) is None


def test_same_idempotency_key_replays_the_first_event(container: Container) -> None:
    sid = new_subject(container)
    first = record(container, sid, idempotency_key="k-1")
    again = record(container, sid, idempotency_key="k-1")
    assert first.created and not again.created
    assert again.event is not None and first.event is not None and again.event.id == first.event.id
    with container.read_sessions.begin() as s:
        assert len(history(session=s, subject_id=sid)) == 1


def test_idempotency_key_reused_for_other_content_is_a_conflict(container: Container) -> None:
    sid = new_subject(container)
    record(container, sid, idempotency_key="k-2")
    with pytest.raises(Conflict):
        record(container, sid, "withdraw", idempotency_key="k-2")


def test_every_event_carries_policy_version_and_evidence(container: Container) -> None:
    sid = new_subject(container)
    event = record(container, sid, evidence={"sms_message_id": "SM123"}).event
    assert event is not None
    assert (event.policy_id, event.policy_version) == ("lmt-group", "2021-01-12")
    assert event.evidence == {"sms_message_id": "SM123"}
    assert event.chain_seq == 1 and event.prev_hash is None


# --- tamper evidence ------------------------------------------------------------------------


def three_events(container: Container) -> str:
    sid = new_subject(container)
    for i, action in enumerate(["grant", "withdraw", "grant"]):
        record(container, sid, action, occurred_at=NOW - timedelta(days=3 - i))
    record(container, new_subject(container, "+37129000002"), "grant")
    assert verify(container).ok
    return sid


def tamper(container: Container, sql: str, **params: object) -> None:
    with container.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_verify_detects_an_altered_event(container: Container) -> None:
    sid = three_events(container)
    tamper(container, "UPDATE consent_events SET action='grant' WHERE subject_id=:s AND chain_seq=2", s=sid)
    report = verify(container)
    assert not report.ok and any("altered" in p for p in report.problems)


def test_verify_detects_altered_evidence(container: Container) -> None:
    sid = three_events(container)
    with container.engine.begin() as conn:
        conn.execute(
            update(ConsentEvent)
            .where(ConsentEvent.subject_id == sid, ConsentEvent.chain_seq == 1)
            .values(evidence={"forged": True})
        )
    assert not verify(container).ok


def test_verify_detects_a_removed_middle_event(container: Container) -> None:
    sid = three_events(container)
    tamper(container, "DELETE FROM consent_events WHERE subject_id=:s AND chain_seq=2", s=sid)
    report = verify(container)
    assert not report.ok and any("removed" in p for p in report.problems)


def test_verify_detects_a_removed_last_event(container: Container) -> None:
    sid = three_events(container)
    tamper(container, "DELETE FROM consent_events WHERE subject_id=:s AND chain_seq=3", s=sid)
    assert not verify(container).ok


def test_verify_detects_reordered_events(container: Container) -> None:
    sid = three_events(container)
    tamper(
        container,
        "UPDATE consent_events SET chain_seq = -chain_seq WHERE subject_id=:s AND chain_seq IN (1, 2)",
        s=sid,
    )
    tamper(container, "UPDATE consent_events SET chain_seq = 2 WHERE subject_id=:s AND chain_seq = -1", s=sid)
    tamper(container, "UPDATE consent_events SET chain_seq = 1 WHERE subject_id=:s AND chain_seq = -2", s=sid)
    report = verify(container)
    assert not report.ok and any("link" in p for p in report.problems)


def test_verify_detects_a_whole_chain_removed(container: Container) -> None:
    sid = three_events(container)
    with container.engine.begin() as conn:
        conn.execute(delete(ConsentState).where(ConsentState.subject_id == sid))
        conn.execute(delete(ConsentEvent).where(ConsentEvent.subject_id == sid))
    report = verify(container)
    assert not report.ok and any("missing" in p for p in report.problems)


def test_erasing_identities_keeps_the_ledger_verifiable(container: Container) -> None:
    sid = three_events(container)
    with container.sessions.begin() as s:
        s.execute(delete(SubjectIdentity).where(SubjectIdentity.subject_id == sid))
        s.execute(update(Subject).where(Subject.id == sid).values(erased_at=NOW))
    with container.read_sessions.begin() as s:
        assert find_subject_id(session=s, identity=Identity("msisdn", "+37129000001")) is None
    report = verify(container)
    assert report.ok and report.events == 4


# --- concurrency ----------------------------------------------------------------------------


def hammer(container: Container, sid: str, threads: int, per_thread: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            try:
                record(
                    container, sid, "grant" if (n + i) % 2 == 0 else "withdraw", idempotency_key=f"t{n}-{i}"
                )
            except BaseException as exc:
                errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


def test_concurrent_writers_on_one_subject_keep_chain_and_projection_consistent(container: Container) -> None:
    sid = new_subject(container)
    errors = hammer(container, sid, threads=6, per_thread=10)
    assert errors == []
    report = verify(container)
    assert report.ok, report.problems
    with container.read_sessions.begin() as s:
        events = history(session=s, subject_id=sid)
        assert len(events) == 60
        assert sorted(e.chain_seq for e in events) == list(range(1, 61))
        state = s.get(ConsentState, (sid, "lmt", "offers"))
        last = max(events, key=lambda e: (e.occurred_at, e.seq))
        assert state is not None and state.event_id == last.id


@requires_postgres
def test_concurrent_duplicate_idempotency_keys_write_once_on_postgres(container: Container) -> None:
    sid = new_subject(container)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        results.append(record(container, sid, idempotency_key="same").event.id)  # type: ignore[union-attr]

    pool = [threading.Thread(target=work) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    with container.read_sessions.begin() as s:
        assert len(history(session=s, subject_id=sid)) == 1
