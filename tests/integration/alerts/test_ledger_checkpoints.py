"""Incremental ledger verification (R-CON-5, issue 14): chains continue from their checkpoints, a
changed checkpoint is a failure, tampering after it is found, and the DPO is alerted once per failure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from sargs.domains.consent import checkpoints
from sargs.domains.consent.checkpoints import verify_and_alert, verify_incremental
from sargs.domains.consent.model import ConsentEvent, LedgerCheckpoint
from sargs.domains.consent.verify import VerifyReport, verify_ledger
from sargs.domains.mail.model import MailOutbox
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.integration.test_consent_ledger import new_subject, record

TO = ("dpo@group.example",)


def _ledger(container: Container, subjects: int = 3, events: int = 4) -> list[str]:
    ids = []
    for i in range(subjects):
        sid = new_subject(container, msisdn=f"+3712900{i:04d}")
        for n in range(events):
            record(
                container,
                sid,
                "grant" if n % 2 == 0 else "withdraw",
                occurred_at=NOW - timedelta(days=40 - n),
            )
        ids.append(sid)
    return ids


def _verify(container: Container, full: bool = False) -> VerifyReport:
    with container.sessions.begin() as session:
        return verify_incremental(session=session, now=NOW, full=full)


def _alert(container: Container) -> VerifyReport:
    with container.sessions.begin() as session:
        return verify_and_alert(session=session, registry=container.registry, now=NOW, configured=TO)


def _tamper(container: Container, sid: str, chain_seq: int) -> None:
    with container.sessions.begin() as session:
        session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.subject_id == sid, ConsentEvent.chain_seq == chain_seq)
            .values(evidence={"forged": True})
        )


def test_the_first_run_verifies_everything_and_the_next_only_what_is_new(container: Container) -> None:
    ids = _ledger(container)
    first = _verify(container)
    assert first.ok and not first.incremental and first.events == 12 and first.subjects == 3
    with container.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 3
    again = _verify(container)
    assert again.ok and again.incremental and again.events == 0 and again.resumed == 3
    assert again.digest == first.digest  # the same ledger gives the same digest, however verified
    record(container, ids[1], "grant", occurred_at=NOW - timedelta(days=1))
    newer = _verify(container)
    assert newer.ok and newer.events == 1 and newer.resumed == 2 and newer.subjects == 3
    with container.read_sessions.begin() as session:
        assert newer.digest == verify_ledger(session=session).digest
    assert _verify(container).events == 0


def test_a_changed_checkpointed_event_fails_the_incremental_run_and_the_full_one(
    container: Container,
) -> None:
    ids = _ledger(container)
    assert _verify(container).ok
    _tamper(container, ids[0], chain_seq=4)  # the checkpointed (last verified) event
    report = _verify(container)
    assert not report.ok
    assert next(f.kind for f in report.findings if f.subject_id == ids[0]) == "checkpoint"
    assert any(
        f.kind == "altered" and f.chain_seq == 4 for f in report.findings
    )  # re-verified from the start
    assert not _verify(container).ok  # a failed chain stays failed run after run
    assert not _verify(container, full=True).ok


def test_tampering_before_the_checkpoint_is_found_by_the_full_run(container: Container) -> None:
    ids = _ledger(container)
    assert _verify(container).ok
    _tamper(container, ids[2], chain_seq=2)  # verified earlier, not the checkpointed event
    assert _verify(container).ok  # incremental trusts what it verified: see consent.checkpoints
    full = _verify(container, full=True)
    assert not full.ok and full.findings[0].subject_id == ids[2] and full.findings[0].chain_seq == 2
    assert not _verify(container).ok  # the full run marked the chain failed: incremental runs see it too


def test_tampering_after_the_checkpoint_is_found(container: Container) -> None:
    ids = _ledger(container)
    assert _verify(container).ok
    record(container, ids[0], "grant", occurred_at=NOW - timedelta(days=1))
    record(container, ids[0], "withdraw", occurred_at=NOW - timedelta(hours=5))
    _tamper(container, ids[0], chain_seq=5)
    report = _verify(container)
    assert not report.ok and report.events == 2
    assert [(f.chain_seq, f.kind) for f in report.findings] == [(5, "altered")]


def test_an_event_put_in_beyond_the_recorded_chain_is_found(container: Container) -> None:
    ids = _ledger(container)
    assert _verify(container).ok
    with container.sessions.begin() as session:  # a copy of the last event, appended behind Sargs' back
        last = session.scalars(
            select(ConsentEvent).where(ConsentEvent.subject_id == ids[1], ConsentEvent.chain_seq == 4)
        ).one()
        session.add(
            ConsentEvent(
                **{
                    c.key: getattr(last, c.key)
                    for c in ConsentEvent.__table__.columns
                    if c.key not in ("seq", "id", "chain_seq", "idempotency_key")
                },
                id="forged-event-0000000000000000001",
                chain_seq=5,
            )
        )
    report = _verify(container)
    assert not report.ok and {f.kind for f in report.findings} >= {"inserted"}


def test_a_failure_alerts_every_company_dpo_once_per_distinct_failure(container: Container) -> None:
    ids = _ledger(container)
    ok = _alert(container)
    assert ok.ok and ok.alerts == 0
    _tamper(container, ids[0], chain_seq=4)
    companies = sum(len(p.controllers) for p in container.registry.policies)
    first = _alert(container)
    assert not first.ok and first.alerts == companies
    assert _alert(container).alerts == 0  # the same failure next run: no new e-mail
    with container.sessions.begin() as session:  # a full run sees the same damage: no new e-mail either
        full = verify_and_alert(
            session=session, registry=container.registry, now=NOW, full=True, configured=TO
        )
    assert not full.ok and full.alerts == 0
    assert _alert(container).alerts == 0
    record(container, ids[1], "grant", occurred_at=NOW - timedelta(days=1))
    _tamper(container, ids[1], chain_seq=5)  # a second, different failure
    assert _alert(container).alerts == companies
    with container.read_sessions() as session:
        mail = list(session.scalars(select(MailOutbox)))
    assert len(mail) == 2 * companies and {m.to_address for m in mail} == set(TO)
    assert all(ids[0] not in m.text and ids[1] not in m.text for m in mail)  # counts and a digest only
    assert "checkpoint: 1" in mail[0].text or "altered" in mail[0].text


def test_ledger_alert_texts_exist_in_latvian_and_english() -> None:
    for name in dir(checkpoints):
        value = getattr(checkpoints, name)
        if name.isupper() and isinstance(value, dict):
            assert set(value) == {"lv", "en"}, name
            assert all(isinstance(v, str) and v.strip() for v in value.values()), name
