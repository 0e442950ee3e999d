"""The anchored ledger (issue 18): a DBA who rewrites and re-hashes a chain's tail, cuts it short or
deletes it passes `verify_ledger` but not `verify_anchors`; erasure still verifies; the access log
is sealed and anchored too; the sinks (file, HTTP, mail) and the worker job. SQLite, and
PostgreSQL with SARGS_TEST_DATABASE_URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, func, insert, select, text, update

from sargs.bootstrap import build
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.core.errors import ConfigurationError
from sargs.core.ids import new_id
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.audit.service import Accessor, log_access
from sargs.domains.consent.anchors import (
    AnchorFailed,
    AnchorReport,
    load_signing_key,
    new_signing_key,
    verify_anchors,
)
from sargs.domains.consent.chain import event_hash
from sargs.domains.consent.model import ConsentEvent, LedgerAnchorHead
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy.schema import Policy
from sargs.domains.subjects.erasure import pseudonymise_subject_report
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.anchoring import run_anchor
from sargs.entrypoints.container import Container
from sargs.entrypoints.worker.jobs import JOBS, JobContext, WorkerPorts
from tests.conftest import NOW

PEM, PUBLIC = new_signing_key()
PUBLIC_PEM = (
    load_signing_key(PEM)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def settings_for(db_url: str, sink: str | None, key: str | None = PEM) -> Settings:
    return Settings(database_url=db_url, demo=True, ledger_anchor_key=key, ledger_anchor_sink=sink)


@pytest.fixture
def anchors_file(tmp_path: Path) -> Path:
    return tmp_path / "anchors" / "ledger.jsonl"


@pytest.fixture
def ledger(
    db_url: str, example_policies: list[Policy], clock: FixedClock, anchors_file: Path
) -> Iterator[Container]:
    c = build(settings_for(db_url, f"file:{anchors_file}"), clock=clock, policies=example_policies)
    yield c
    c.close()


def chain(container: Container, phone: str, events: int) -> str:
    """A subject with `events` consent events, written the ordinary way."""
    with container.sessions.begin() as s:
        sid = create_subject(
            session=s, identities=[Identity("msisdn", phone)], now=NOW, groups={"lmt": "own"}
        )
        for i in range(events):
            record_consent(
                session=s,
                registry=container.registry,
                subject_id=sid,
                controller="lmt",
                purpose="offers",
                action="grant" if i % 2 == 0 else "withdraw",
                channel="sms",
                actor=Actor("system", "test"),
                now=NOW,
                occurred_at=NOW - timedelta(days=300) + timedelta(hours=i),
                evidence={"sms_message_id": f"SM{i}"},
            )
    return sid


def anchor_report(container: Container, path: Path) -> AnchorReport:
    with container.read_sessions.begin() as s:
        return verify_anchors(
            session=s,
            lines=path.read_text(encoding="utf-8").splitlines(),
            public=load_signing_key(PEM).public_key(),
        )


def chain_alone_verifies(container: Container) -> bool:
    with container.read_sessions.begin() as s:
        return verify_ledger(session=s).ok


def kinds(report: AnchorReport) -> set[tuple[str, str | None]]:
    return {(f.kind, f.chain) for f in report.findings}


@pytest.fixture
def three(ledger: Container, anchors_file: Path) -> tuple[str, str, str]:
    """Three chains (150, 5 and 3 events), anchored; the ledger and the anchors verify."""
    made = (
        chain(ledger, "+37129000201", 150),
        chain(ledger, "+37129000202", 5),
        chain(ledger, "+37129000203", 3),
    )
    run = run_anchor(ledger)
    assert (run.anchor.chains, run.anchor.events, run.delivered) == (3, 158, 1)
    assert anchor_report(ledger, anchors_file).ok
    return made


def test_a_dba_who_rewrites_and_rehashes_the_last_100_events_of_a_chain_is_caught(
    ledger: Container, anchors_file: Path, three: tuple[str, str, str]
) -> None:
    victim = three[0]
    with ledger.engine.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(*ConsentEvent.__table__.c)
                .where(ConsentEvent.subject_id == victim)
                .order_by(ConsentEvent.chain_seq)
            )
        ]
        assert len(rows) == 150
        prev = rows[49]["hash"]
        for row in rows[50:]:  # every withdrawal becomes a grant, every hash recomputed, linked anew
            row.update(action="grant", prev_hash=prev)
            row["hash"] = prev = event_hash(row)
            conn.execute(
                update(ConsentEvent)
                .where(ConsentEvent.seq == row["seq"])
                .values(action="grant", prev_hash=row["prev_hash"], hash=row["hash"])
            )
        conn.execute(update(Subject).where(Subject.id == victim).values(chain_head=prev))
    assert chain_alone_verifies(ledger)  # the hash chain alone cannot tell
    report = anchor_report(ledger, anchors_file)
    assert kinds(report) == {("rewritten", victim)}, report.problems
    assert "#150" in report.problems[0]


def test_a_truncated_tail_and_a_deleted_chain_are_caught(
    ledger: Container, anchors_file: Path, three: tuple[str, str, str]
) -> None:
    _, short, gone = three
    with ledger.engine.begin() as conn:
        conn.execute(delete(ConsentEvent).where(ConsentEvent.subject_id == short, ConsentEvent.chain_seq > 3))
        head = conn.scalar(
            select(ConsentEvent.hash).where(ConsentEvent.subject_id == short, ConsentEvent.chain_seq == 3)
        )
        conn.execute(update(Subject).where(Subject.id == short).values(chain_length=3, chain_head=head))
        conn.execute(delete(ConsentEvent).where(ConsentEvent.subject_id == gone))
        conn.execute(update(Subject).where(Subject.id == gone).values(chain_length=0, chain_head=None))
    assert chain_alone_verifies(ledger)
    report = anchor_report(ledger, anchors_file)
    assert kinds(report) == {("truncated", short), ("deleted", gone), ("removed", None)}, report.problems


def test_erasure_keeps_the_anchors_verifying(
    ledger: Container, anchors_file: Path, three: tuple[str, str, str]
) -> None:
    with ledger.sessions.begin() as s:
        pseudonymise_subject_report(session=s, subject_id=three[1], now=NOW, key=b"k" * 32)
    assert anchor_report(ledger, anchors_file).ok
    chain(ledger, "+37129000204", 2)  # the ledger grows, and is anchored again
    run_anchor(ledger)
    report = anchor_report(ledger, anchors_file)
    assert report.ok and (report.checked, report.chains, report.events) == (2, 4, 160), report.problems
    text_ = anchors_file.read_text(encoding="utf-8")
    assert "+371" not in text_ and "29000202" not in text_  # no identifier in the sink


def test_altered_anchor_lines_other_keys_and_altered_stored_heads_are_findings(
    ledger: Container, anchors_file: Path, three: tuple[str, str, str]
) -> None:
    line = anchors_file.read_text(encoding="utf-8").strip()
    forged = anchors_file.with_name("forged.jsonl")
    forged.write_text(line.replace('"events":158', '"events":159') + "\n", encoding="utf-8")
    assert [f.kind for f in anchor_report(ledger, forged).findings] == ["signature"]
    with ledger.engine.begin() as conn:  # a DBA who also "fixes" the stored heads to match a rewrite
        conn.execute(
            update(LedgerAnchorHead).where(LedgerAnchorHead.subject_id == three[2]).values(head="0" * 64)
        )
    report = anchor_report(ledger, anchors_file)
    assert [f.kind for f in report.findings] == ["heads"]


def test_the_access_log_is_sealed_and_anchored(
    ledger: Container, clock: FixedClock, anchors_file: Path, three: tuple[str, str, str]
) -> None:
    with ledger.sessions.begin() as s:
        for i in range(5):
            log_access(
                session=s,
                actor=Accessor("token", f"t{i}", "marketing"),
                route="/api/v1/consents/check",
                action="read",
                now=NOW - timedelta(minutes=5),
                subject_id=three[0],
                controllers=["lmt"],
            )
        log_access(session=s, actor=Accessor("token", "late", None), route="/x", action="read", now=NOW)
    run = run_anchor(ledger)
    assert (run.anchor.access.rows, run.delivered) == (5, 1)  # the row younger than a minute waits
    assert anchor_report(ledger, anchors_file).ok
    with ledger.sessions.begin() as s:  # rows written after the anchor change nothing
        log_access(session=s, actor=Accessor("token", "t9", None), route="/y", action="read", now=NOW)
    assert anchor_report(ledger, anchors_file).ok
    with ledger.engine.begin() as conn:  # a DBA who switches the append-only trigger off
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE access_log DISABLE TRIGGER access_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER access_log_no_update"))
        first = conn.scalar(select(func.min(AccessLogEntry.id)))
        conn.execute(update(AccessLogEntry).where(AccessLogEntry.id == first).values(actor_id="someone-else"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE access_log ENABLE TRIGGER access_log_append_only"))
    report = anchor_report(ledger, anchors_file)
    assert {f.kind for f in report.findings} == {"access_log"}, report.problems


def test_legacy_version_1_events_verify_under_version_2_events_and_cannot_be_relabelled(
    ledger: Container, anchors_file: Path
) -> None:
    with ledger.sessions.begin() as s:
        sid = create_subject(session=s, identities=[Identity("msisdn", "+37129000301")], now=NOW)
    prev = None
    with ledger.engine.begin() as conn:  # two events as the previous release wrote them
        for n in (1, 2):
            fields: dict[str, Any] = {
                "id": new_id(),
                "subject_id": sid,
                "chain_seq": n,
                "controller": "lmt",
                "purpose": "offers",
                "action": "grant",
                "channel": "sms",
                "actor_type": "system",
                "actor_id": None,
                "occurred_at": NOW - timedelta(days=3 - n),
                "recorded_at": NOW - timedelta(days=3 - n),
                "policy_id": "lmt-group",
                "policy_version": "1",
                "evidence": {"weight": 1.0},
                "idempotency_key": None,
                "prev_hash": prev,
            }
            fields["hash"] = prev = event_hash(fields)
            conn.execute(insert(ConsentEvent).values(**fields))
        conn.execute(update(Subject).where(Subject.id == sid).values(chain_length=2, chain_head=prev))
    with ledger.sessions.begin() as s:
        outcome = record_consent(
            session=s,
            registry=ledger.registry,
            subject_id=sid,
            controller="lmt",
            purpose="offers",
            action="withdraw",
            channel="sms",
            actor=Actor("system", "test"),
            now=NOW,
        )
    assert outcome.event is not None and outcome.event.hash_version == 2
    with ledger.engine.begin() as conn:
        versions = conn.scalars(
            select(ConsentEvent.hash_version)
            .where(ConsentEvent.subject_id == sid)
            .order_by(ConsentEvent.chain_seq)
        ).all()
    assert versions == [1, 1, 2]
    assert chain_alone_verifies(ledger)
    run_anchor(ledger)
    assert anchor_report(ledger, anchors_file).ok
    with ledger.engine.begin() as conn:
        conn.execute(
            update(ConsentEvent)
            .where(ConsentEvent.subject_id == sid, ConsentEvent.chain_seq == 1)
            .values(hash_version=2)
        )
    with ledger.read_sessions.begin() as s:
        report = verify_ledger(session=s)
    assert [(f.subject_id, f.chain_seq, f.kind) for f in report.findings] == [(sid, 1, "altered")]


def test_anchoring_refuses_a_ledger_that_does_not_verify(ledger: Container, anchors_file: Path) -> None:
    sid = chain(ledger, "+37129000401", 2)
    with ledger.engine.begin() as conn:
        conn.execute(update(ConsentEvent).where(ConsentEvent.subject_id == sid).values(purpose="loyalty"))
    with pytest.raises(AnchorFailed, match="does not verify"):
        run_anchor(ledger)
    assert not anchors_file.exists()


class FakeAnchorEndpoint(BaseHTTPRequestHandler):
    received: list[bytes] = []
    answers: list[int] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.received.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    FakeAnchorEndpoint.received, FakeAnchorEndpoint.answers = [], [503]
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAnchorEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/anchors"
    server.shutdown()
    server.server_close()


def test_the_http_sink_posts_each_anchor_and_sends_a_refused_one_again(
    db_url: str, example_policies: list[Policy], clock: FixedClock, endpoint: str, tmp_path: Path
) -> None:
    c = build(settings_for(db_url, endpoint), clock=clock, policies=example_policies)
    try:
        chain(c, "+37129000501", 2)
        with pytest.raises(AnchorFailed, match="answered 503"):
            run_anchor(c)  # recorded, not delivered
        clock.advance(hours=1)
        assert run_anchor(c).delivered == 2  # the refused one first, then the new one
        saved = tmp_path / "posted.jsonl"
        saved.write_bytes(b"\n".join(FakeAnchorEndpoint.received))
        report = anchor_report(c, saved)
        assert report.ok and (report.anchors, report.checked) == (2, 2), report.problems
    finally:
        c.close()


def test_the_mail_sink_queues_the_anchor_to_the_dpos(
    db_url: str, example_policies: list[Policy], clock: FixedClock
) -> None:
    c = build(settings_for(db_url, "mail"), clock=clock, policies=example_policies)
    try:
        chain(c, "+37129000601", 1)
        run = run_anchor(c)
        with c.read_sessions() as s:
            mails = s.scalars(select(MailOutbox)).all()
        assert mails and all(run.anchor.line in m.text for m in mails)
        assert run_anchor(c).anchor.id == 2  # each anchor its own e-mail
    finally:
        c.close()


def test_the_worker_job_anchors_when_configured(
    db_url: str, example_policies: list[Policy], clock: FixedClock, anchors_file: Path
) -> None:
    def unwired() -> Any:
        raise AssertionError("the anchor job sends nothing through the worker's ports")

    ports = WorkerPorts(sms=unwired, mail=unwired, callbacks=unwired)
    bare = build(settings_for(db_url, None, key=None), clock=clock, policies=example_policies)
    try:
        assert JOBS["ledger_anchor"](JobContext(bare, ports)).startswith("not configured")
    finally:
        bare.close()
    c = build(settings_for(db_url, f"file:{anchors_file}"), clock=clock, policies=example_policies)
    try:
        chain(c, "+37129000701", 3)
        summary = JOBS["ledger_anchor"](JobContext(c, ports))
        assert summary.startswith("anchor 1: 1 chains, 3 events") and "1 delivered" in summary
        assert anchor_report(c, anchors_file).ok
    finally:
        c.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "SARGS_LEDGER_ANCHOR_KEY is not set"),
        ("", "SARGS_LEDGER_ANCHOR_KEY is not set"),
        ("not-a-key", "is not an Ed25519 private key"),
        (PUBLIC_PEM, "is not an Ed25519 private key"),  # the public half is no signing key
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "is not an Ed25519 private key"),
    ],
)
def test_a_missing_or_bad_key_is_a_clear_error(value: str | None, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_signing_key(value)


def test_a_key_file_works_like_the_key(tmp_path: Path) -> None:
    path = tmp_path / "anchor.pem"
    path.write_text(PEM, encoding="utf-8")
    assert load_signing_key(str(path)).public_key() == load_signing_key(PEM).public_key()
