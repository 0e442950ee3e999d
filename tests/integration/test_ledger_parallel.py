"""A full verification split over processes by subject-id range reports exactly what one process
reports (findings in the same order, the same digest and counts), on a ledger with damage in
several parts of the id range; SQLite file and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from sargs.domains.consent import verify
from sargs.domains.consent.checkpoints import verify_incremental
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.verify import VerifyReport, verify_ledger
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.integration.test_ledger_anchors import chain


def run(container: Container, jobs: int) -> VerifyReport:
    with container.read_sessions.begin() as s:
        return verify_ledger(session=s, jobs=jobs)


def test_processes_report_what_one_process_reports(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "PARALLEL_FROM", 1)
    parallel = verify._verify_parallel
    calls: list[int] = []
    monkeypatch.setattr(verify, "_verify_parallel", lambda *a: calls.append(a[1]) or parallel(*a))
    ids = [chain(container, f"+3712900090{i}", 3 + i) for i in range(8)]
    one = run(container, 1)
    assert one.ok and one.events == sum(3 + i for i in range(8))
    assert run(container, 3) == one
    assert calls == [3]  # the processes did run
    victims = sorted(ids)
    with container.engine.begin() as conn:
        conn.execute(update(ConsentEvent).where(ConsentEvent.subject_id == victims[0]).values(channel="web"))
        conn.execute(
            delete(ConsentEvent).where(ConsentEvent.subject_id == victims[-1], ConsentEvent.chain_seq == 2)
        )
    one = run(container, 1)
    many = run(container, 3)
    assert not one.ok and many.problems == one.problems
    assert (many.events, many.subjects, many.digest) == (one.events, one.subjects, one.digest)
    with container.sessions.begin() as s:  # the checkpoints written from a parallel run work on
        full = verify_incremental(session=s, now=NOW, full=True, jobs=3)
    with container.sessions.begin() as s:
        again = verify_incremental(session=s, now=NOW)
    assert (
        full.problems == one.problems
        and again.incremental
        and {f.subject_id for f in again.findings}
        == {
            victims[0],
            victims[-1],
        }
    )
