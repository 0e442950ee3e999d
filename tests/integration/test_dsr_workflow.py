"""Rights requests against a real database (SQLite, PostgreSQL): intake, verification, repeats,
extensions, marketing objections, fulfilment with a fake connector, crash-safe retries, leases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from sargs.bootstrap import example_policy_paths
from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.consent.service import Actor, current_states, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.dsr.fulfilment import fulfil, runs_of
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrCallback, DsrRequest, DsrSourceRun
from sargs.domains.dsr.reminders import remind
from sargs.domains.dsr.response import build_response
from sargs.domains.dsr.service import (
    DsrActor,
    decide_repeat,
    extend_deadline,
    hold,
    list_requests,
    lock_request,
    record_decision,
    start_work,
    trail,
    verify_identity,
)
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectIdentity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.dsr_fakes import FakeConnectors
from tests.helpers import sql_sources_only

C = "lytagra-lv"
EMAIL = Identity("email", "anna@example.lv")
STAFF = DsrActor("staff", "staff-1")
FULL = {"name": "Anna Ozola", "address": "Rīga, Brīvības 1", "contact": "anna@example.lv", "signed": True}


@pytest.fixture
def subject(container: Container) -> str:
    with container.sessions.begin() as session:
        sid = create_subject(
            session=session, identities=[EMAIL], now=container.clock.now(), groups={C: "client"}
        )
        record_consent(
            session=session,
            registry=container.registry,
            subject_id=sid,
            controller=C,
            purpose="direct-marketing",
            action="grant",
            channel="portal",
            actor=Actor("subject", sid),
            now=container.clock.now(),
        )
    return sid


def file(container: Container, kind: str = "erasure", channel: str = "in_person", **kw: object) -> str:
    intake = Intake(
        controller=C,
        kind=kind,
        channel=channel,
        identities=[EMAIL],
        requester=kw.pop("requester", FULL),  # type: ignore[arg-type]
        ground=kw.pop("ground", "no_longer_needed" if kind == "erasure" else None),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    with container.sessions.begin() as session:
        return file_request(
            session=session,
            registry=container.registry,
            intake=intake,
            actor=STAFF,
            now=container.clock.now(),
        ).id


def verify(container: Container, request_id: str) -> None:
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=request_id)
        verify_identity(
            session=session,
            request=r,
            method="id_document",
            evidence={"document_type": "passport"},
            actor=STAFF,
            now=container.clock.now(),
        )


def run(container: Container, request_id: str, fake: FakeConnectors, worker: str = "w1") -> object:
    return fulfil(
        sessions=container.sessions,
        registry=container.registry,
        connectors=fake,
        request_id=request_id,
        actor=DsrActor("staff", "dpo-1"),
        now=container.clock.now,
        worker=worker,
    )


def test_request_is_due_after_the_policy_deadline_and_work_waits_for_identity_verification(
    container: Container, subject: str
) -> None:
    rid = file(container)
    with container.sessions.begin() as session:
        r = session.get(DsrRequest, rid)
        assert r is not None and r.subject_id == subject and r.status == "received"
        assert r.due_at == container.clock.now() + timedelta(days=30)
        with pytest.raises(Conflict, match="identity"):
            start_work(session=session, request=r, actor=STAFF, now=container.clock.now())
    with pytest.raises(Conflict):
        run(container, rid, FakeConnectors())
    verify(container, rid)
    with container.sessions.begin() as session:
        r = session.get(DsrRequest, rid)
        assert r is not None and r.status == "verified"
        assert r.verification is not None and r.verification["checked_by"] == "staff-1"
        actions = [e.action for e in trail(session=session, request_id=rid)]
    assert actions == ["received", "verified"]


def test_erasure_without_a_ground_or_with_an_unknown_kind_is_refused_naming_the_field(
    container: Container, subject: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        file(container, ground=None)
    assert exc.value.details["field"] == "ground"
    with pytest.raises(InvalidInput) as exc2:
        file(container, kind="forget-me")
    assert exc2.value.details["field"] == "kind"
    with container.sessions.begin() as session:
        assert session.scalar(select(DsrRequest.id)) is None


def test_incomplete_request_is_held_with_a_message_and_cannot_be_verified(
    container: Container, subject: str
) -> None:
    rid = file(container, channel="post", requester={"name": "Anna"})
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        with pytest.raises(Conflict, match="address"):
            verify_identity(
                session=session,
                request=r,
                method="certified_copy",
                evidence={"certified_by": "notary"},
                actor=STAFF,
                now=container.clock.now(),
            )
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        hold(
            session=session,
            request=r,
            message="Lūdzu norādiet adresi un parakstiet.",
            actor=STAFF,
            now=container.clock.now(),
        )
        assert r.status == "on_hold" and r.hold_message


def test_objection_to_direct_marketing_withdraws_the_consent_in_the_same_transaction(
    container: Container, subject: str
) -> None:
    rid = file(container, kind="objection", ground="direct_marketing")
    with container.sessions.begin() as session:
        states = {
            s.purpose: s.status for s in current_states(session=session, subject_id=subject, controller=C)
        }
        r = session.get(DsrRequest, rid)
        assert r is not None
        assert states["direct-marketing"] == "withdrawn"
        assert r.due_at == container.clock.now() + timedelta(hours=72)
        assert "marketing_stopped" in [e.action for e in trail(session=session, request_id=rid)]
        assert verify_ledger(session=session).ok


def test_a_second_access_request_within_six_months_needs_the_dpos_decision(
    container: Container, subject: str
) -> None:
    first = file(container, kind="access")
    container.clock.advance(days=40)  # type: ignore[attr-defined]
    second = file(container, kind="access")
    with container.sessions.begin() as session:
        r = session.get(DsrRequest, second)
        assert r is not None and r.repeat_of == first
    verify(container, second)
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=second)
        with pytest.raises(Conflict, match="repeat"):
            start_work(session=session, request=r, actor=STAFF, now=container.clock.now())
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=second)
        decide_repeat(
            session=session,
            request=r,
            decision="fee",
            fee="15 EUR",
            reason=None,
            actor=STAFF,
            now=container.clock.now(),
        )
        start_work(session=session, request=r, actor=STAFF, now=container.clock.now())
        assert r.status == "in_progress" and r.repeat_decision and r.repeat_decision["fee"] == "15 EUR"


def test_extension_moves_the_due_date_only_before_the_first_deadline(
    container: Container, subject: str
) -> None:
    rid = file(container, kind="access")
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        extend_deadline(
            session=session,
            registry=container.registry,
            request=r,
            days=30,
            reason="complex",
            notice="We need 30 more days.",
            actor=STAFF,
            now=container.clock.now(),
        )
        assert r.due_at == r.first_due_at + timedelta(days=30)
    container.clock.advance(days=31)  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        with pytest.raises(Conflict):
            extend_deadline(
                session=session,
                registry=container.registry,
                request=r,
                days=10,
                reason="late",
                notice="n",
                actor=STAFF,
                now=container.clock.now(),
            )


def test_due_soon_and_overdue_lists_and_the_reminder_runs_once_a_day(
    container: Container, subject: str
) -> None:
    rid = file(container, kind="access")
    now = container.clock.now()
    with container.sessions.begin() as session:
        assert list_requests(session=session, now=now, due_within=timedelta(days=7)) == []
    container.clock.advance(days=25)  # type: ignore[attr-defined]
    now = container.clock.now()
    with container.sessions.begin() as session:
        assert [r.id for r in list_requests(session=session, now=now, due_within=timedelta(days=7))] == [rid]
        assert list_requests(session=session, now=now, overdue=True) == []
    with container.sessions.begin() as session:
        first = remind(session=session, now=now)
    with container.sessions.begin() as session:
        again = remind(session=session, now=now + timedelta(hours=1))
    assert [r.request_id for r in first] == [rid] and again == []
    container.clock.advance(days=6)  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        nxt = remind(session=session, now=container.clock.now())
        assert [r.overdue for r in nxt] == [True]
        assert [r.id for r in list_requests(session=session, now=container.clock.now(), overdue=True)] == [
            rid
        ]


def test_erasure_runs_every_source_keeps_what_the_law_keeps_and_erases_sargs_identifiers(
    container: Container, subject: str
) -> None:
    rid = file(container)
    verify(container, rid)
    fake = FakeConnectors()
    result = run(container, rid, fake)
    assert result.status == "partially_fulfilled"  # type: ignore[attr-defined]
    assert fake.calls == [("erase", "shop")]
    with container.sessions.begin() as session:
        r = session.get(DsrRequest, rid)
        assert r is not None and r.decision and r.decision["kept"] == 2
        assert all("anna@example.lv" not in i for i in r.identities)
        assert session.scalar(select(SubjectIdentity).where(SubjectIdentity.value == EMAIL.value)) is None
        subj = session.get(Subject, subject)
        assert subj is not None and subj.erased_at is not None
        assert verify_ledger(session=session).ok
        doc = build_response(
            request=r,
            policy=container.registry.policy_for(C),
            runs=runs_of(session=session, request_id=rid),
            accesses=[],
        )
    text_of = " ".join(str(b) for b in doc.blocks)
    assert "Pasūtījumi glabājas 10 gadus." in text_of and "Datu valsts inspekcija" in text_of
    assert run(container, rid, fake).status == "partially_fulfilled"  # type: ignore[attr-defined]
    assert fake.calls == [("erase", "shop")]  # a closed request runs nothing again


def test_a_failed_source_is_shown_changes_nothing_in_sargs_and_is_retried_alone(
    container: Container, subject: str
) -> None:
    rid = file(container)
    verify(container, rid)
    fake = FakeConnectors(failing={"shop"})
    result = run(container, rid, fake)
    # A failure the source does not call temporary waits for staff, and says so.
    assert result.status == "in_progress"  # type: ignore[attr-defined]
    assert result.errors == {"shop": "connection refused [permanent: fix the cause, then run it again]"}  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        runs = runs_of(session=session, request_id=rid)
        assert [(x.source, x.status, x.attempts) for x in runs] == [("shop", "failed", 1)]
        assert (
            session.scalar(select(SubjectIdentity.id).where(SubjectIdentity.subject_id == subject))
            is not None
        )
        r = session.get(DsrRequest, rid)
        assert r is not None and r.lease_owner is None
    fake.failing.clear()
    assert run(container, rid, fake).status == "partially_fulfilled"  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        assert [(x.status, x.attempts) for x in runs_of(session=session, request_id=rid)] == [("ok", 2)]


def test_a_crash_after_a_source_finished_does_not_run_it_again(container: Container, subject: str) -> None:
    rid = file(container, kind="access")
    verify(container, rid)
    fake = FakeConnectors()
    run(container, rid, fake)
    with container.sessions.begin() as session:  # simulate a crash before the request was closed
        session.execute(
            text("UPDATE dsr_requests SET status='in_progress', closed_at=NULL WHERE id=:i"), {"i": rid}
        )
    result = run(container, rid, fake, worker="w2")
    assert result.status == "fulfilled" and fake.calls == [("collect", "shop")]  # type: ignore[attr-defined]


def test_two_workers_never_run_one_request_at_once(container: Container, subject: str) -> None:
    rid = file(container)
    verify(container, rid)
    fake = FakeConnectors(delay=0.5)
    outcomes: list[str] = []

    def worker(name: str) -> None:
        try:
            outcomes.append(run(container, rid, fake, worker=name).status)  # type: ignore[attr-defined]
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["partially_fulfilled", "refused"]
    assert fake.calls == [("erase", "shop")]


def test_opendsr_requests_queue_a_callback_on_each_status_change(container: Container, subject: str) -> None:
    rid = file(
        container, kind="access", channel="api", requester={}, callback_urls=("https://processor.example/cb",)
    )
    verify(container, rid)  # still pending: no new callback
    run(container, rid, FakeConnectors())
    with container.sessions.begin() as session:
        statuses = [
            c.payload["request_status"]
            for c in session.scalars(select(DsrCallback).order_by(DsrCallback.created_at))
        ]
    assert sorted(statuses) == ["completed", "in_progress", "pending"]


def test_a_consent_withdrawal_request_goes_through_the_consent_ledger_when_decided(
    container: Container, subject: str
) -> None:
    rid = file(container, kind="consent_withdrawal", purposes=("direct-marketing",))
    verify(container, rid)
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        record_decision(
            session=session,
            registry=container.registry,
            request=r,
            outcome="fulfilled",
            text="",
            actor=STAFF,
            now=container.clock.now(),
        )
        assert r.status == "fulfilled" and r.decision and r.decision["withdrawn"] == ["direct-marketing"]
        states = {s.purpose: s for s in current_states(session=session, subject_id=subject, controller=C)}
        assert (
            states["direct-marketing"].status == "withdrawn" and states["direct-marketing"].channel == "staff"
        )
        assert verify_ledger(session=session).ok


def test_a_rectification_is_a_recorded_decision_and_a_refusal_needs_a_reason(
    container: Container, subject: str
) -> None:
    rid = file(container, kind="rectification", details="My surname is Ozola-Kalniņa")
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        with pytest.raises(InvalidInput):
            record_decision(
                session=session,
                registry=container.registry,
                request=r,
                outcome="refused",
                text="",
                actor=STAFF,
                now=container.clock.now(),
            )
        with pytest.raises(Conflict):  # not verified yet
            record_decision(
                session=session,
                registry=container.registry,
                request=r,
                outcome="fulfilled",
                text="done",
                actor=STAFF,
                now=container.clock.now(),
            )
    verify(container, rid)
    with container.sessions.begin() as session:
        r = lock_request(session=session, request_id=rid)
        record_decision(
            session=session,
            registry=container.registry,
            request=r,
            outcome="fulfilled",
            text="Surname corrected in all systems.",
            actor=STAFF,
            now=container.clock.now(),
        )
        assert [e.action for e in trail(session=session, request_id=rid)] == [
            "received",
            "verified",
            "started",
            "fulfilled",
        ]


def test_a_worker_that_died_inside_a_source_is_taken_over_after_its_lease_and_the_rerun_is_noted(
    container: Container, subject: str
) -> None:
    rid = file(container)
    verify(container, rid)
    with container.sessions.begin() as session:  # as a crashed worker leaves it
        r = lock_request(session=session, request_id=rid)
        start_work(session=session, request=r, actor=STAFF, now=container.clock.now())
        r.lease_owner, r.lease_until = "dead", container.clock.now() + timedelta(minutes=15)
        session.add(
            DsrSourceRun(request_id=rid, source="shop", operation="erase", status="running", attempts=1)
        )
    fake = FakeConnectors()
    with pytest.raises(Conflict):
        run(container, rid, fake)
    container.clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert run(container, rid, fake).status == "partially_fulfilled"  # type: ignore[attr-defined]
    with container.sessions.begin() as session:
        actions = [e.action for e in trail(session=session, request_id=rid)]
        assert "source_rerun_after_interruption" in actions
        assert [(x.status, x.attempts) for x in runs_of(session=session, request_id=rid)] == [("ok", 2)]


@pytest.fixture(scope="module")
def example_policies() -> list[Policy]:
    """The SQL sources only: the paper archive's task and the e-mail platform are tested elsewhere."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()], keep_http=False)
