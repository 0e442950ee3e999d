"""The worker in this process: slots claimed once, `--once` semantics, outbox delivery, failures
recorded, tasks resumed after a dead worker and handed back on stop (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from sargs.core.clock import FixedClock
from sargs.core.errors import ConfigurationError
from sargs.core.ids import new_id
from sargs.domains.jobs import periodic
from sargs.domains.jobs import tasks as queue
from sargs.domains.jobs.model import WorkerJob, WorkerTask
from sargs.domains.retention.rules import SourceRules
from sargs.domains.sms.service import InboundMessage, handle_inbound
from sargs.entrypoints.container import Container
from sargs.entrypoints.worker.jobs import WorkerPorts
from sargs.entrypoints.worker.runner import Worker
from sargs.entrypoints.worker.schedule import parse, schedules
from sargs.integrations.sources.sql_retention import SqlRetentionConnector
from tests.conftest import NOW
from tests.helpers import requires_postgres
from tests.retention_sources import loyalty_tables


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, to: str, sender: str | None, text: str, reference: str) -> str:
        self.sent.append((to, text))
        return f"rec-{reference}"


class RecordingMail:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> str:
        self.sent.append(message)
        return f"mail-{len(self.sent)}"


def ports(sms: Any = None, mail: Any = None) -> WorkerPorts:
    def refuse() -> Any:
        raise AssertionError("not expected to send")

    return WorkerPorts(
        sms=(lambda: sms) if sms is not None else refuse,
        mail=(lambda: mail) if mail is not None else refuse,
        callbacks=refuse,
    )


@pytest.fixture
def loyalty(container: Container, tmp_path: Path) -> Iterator[sa.Engine]:
    """The telecom's loyalty source with 40 members past their two years and 2 recent ones."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'loyalty.db'}")
    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for i in range(1, 43):
            when = NOW - timedelta(days=1000 if i <= 40 else 10)
            conn.execute(t["members"].insert(), {"id": i, "msisdn": f"+3712900{i:04d}", "joined_at": when})

    def connectors(rules: SourceRules) -> SqlRetentionConnector:
        return SqlRetentionConnector(rules, engine)

    container.retention_connectors = connectors
    yield engine
    engine.dispose()


def test_schedules_are_intervals_crontab_lines_or_off_and_bad_ones_are_named() -> None:
    every = parse("5m", timezone="Europe/Riga")
    assert every is not None and every.next_after(NOW) == NOW + timedelta(minutes=5)  # NOW is on the grid
    daily = parse("0 7 * * *", timezone="Europe/Riga")
    assert (
        daily is not None and daily.next_after(NOW).isoformat() == "2026-11-24T05:00:00+00:00"
    )  # 07:00 Riga
    assert parse("off", timezone="UTC") is None
    with pytest.raises(ConfigurationError, match="neither an interval"):
        parse("every tuesday", timezone="UTC")
    with pytest.raises(ConfigurationError, match="unknown job"):
        schedules({"sms_sned": "5s"}, timezone="UTC")
    with pytest.raises(ConfigurationError, match="time zone"):
        parse("0 7 * * *", timezone="Mars/Olympus")


@requires_postgres
def test_two_workers_starting_at_once_both_create_the_job_rows_without_an_error(container: Container) -> None:
    """Both read no row; the second's insert waits on the first's key, then does nothing (it used to
    fail with a duplicate key and stop that worker)."""
    first = container.sessions()
    first.begin()
    periodic.ensure_jobs(session=first, first_due={"dsr_remind": NOW})  # inserted, not committed
    failed: list[BaseException] = []

    def second() -> None:
        try:
            with container.sessions.begin() as session:
                periodic.ensure_jobs(session=session, first_due={"dsr_remind": NOW + timedelta(hours=1)})
        except BaseException as exc:
            failed.append(exc)

    other = threading.Thread(target=second)
    other.start()
    other.join(0.5)
    assert other.is_alive()  # waiting on the first's uncommitted key
    first.commit()
    first.close()
    other.join(10)
    assert not failed, failed
    with container.sessions.begin() as session:
        assert session.scalar(select(WorkerJob.next_run_at).where(WorkerJob.name == "dsr_remind")) == NOW


def test_of_many_workers_claiming_one_due_slot_exactly_one_gets_it(container: Container) -> None:
    with container.sessions.begin() as session:
        periodic.ensure_jobs(session=session, first_due={"dsr_remind": NOW})
    barrier = threading.Barrier(6)
    won: list[str] = []

    def claim(owner: str) -> None:
        barrier.wait()
        for _ in range(20):  # SQLite may say "locked" to a writer; a worker retries next slot
            try:
                with container.sessions.begin() as session:
                    slot = periodic.claim(
                        session=session, name="dsr_remind", owner=owner, now=NOW, lease=timedelta(minutes=1)
                    )
                break
            except sa.exc.OperationalError:
                continue
        if slot is not None:
            won.append(owner)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with container.sessions.begin() as session:
        row = session.get(WorkerJob, "dsr_remind")
        assert row is not None and row.lease_owner == won[0]


def test_once_runs_what_is_due_then_nothing_until_the_next_slot(
    container: Container, clock: FixedClock
) -> None:
    sms, mail = RecordingSms(), RecordingMail()
    worker = Worker(container, ports(sms, mail), only={"sms_send", "mail_send", "dsr_remind"})
    outcomes, _ = worker.run_once()
    assert {o.name for o in outcomes} == {"sms_send", "mail_send"}  # the daily reminder waits for 07:00
    assert all(o.ok for o in outcomes)
    assert worker.run_once()[0] == []  # nothing is due a second time
    clock.advance(seconds=2)
    assert [o.name for o in worker.run_once()[0]] == ["sms_send"]  # every 2 s; e-mail every 10 s
    clock.advance(hours=20)  # past 07:00 in Riga
    assert {o.name for o in worker.run_once()[0]} == {"sms_send", "mail_send", "dsr_remind"}
    with container.read_sessions.begin() as session:
        rows = {r.name: r for r in periodic.job_rows(session=session)}
    assert rows["sms_send"].runs == 3 and rows["sms_send"].failures == 0
    assert rows["dsr_remind"].next_run_at > clock.now() and rows["dsr_remind"].lease_owner is None


def test_a_reply_queued_by_an_inbound_sms_is_delivered_by_the_worker(container: Container) -> None:
    route = container.sms.routes[0]
    msg = InboundMessage(
        provider="json", message_id=new_id(), sender="+37129900001", to=route.config.number, text="JAUNUMI"
    )
    with container.sessions.begin() as session:
        handle_inbound(session=session, directory=container.sms, msg=msg, now=NOW)
    sms = RecordingSms()
    outcomes, _ = Worker(container, ports(sms), only={"sms_send"}).run_once()
    assert outcomes[0].summary == "sent 1, to retry 0, failed 0"
    assert [to for to, _ in sms.sent] == ["+37129900001"]


def test_a_failing_job_is_recorded_and_runs_again_at_its_next_slot(
    container: Container, clock: FixedClock
) -> None:
    def broken() -> Any:
        raise ConfigurationError("SARGS_SMS_PROVIDER=http needs SARGS_SMS_PROVIDER_URL")

    worker = Worker(container, WorkerPorts(sms=broken, mail=broken, callbacks=broken), only={"sms_send"})
    [outcome] = worker.run_once()[0]
    assert not outcome.ok and "SARGS_SMS_PROVIDER_URL" in outcome.summary
    clock.advance(seconds=2)
    assert [o.ok for o in worker.run_once()[0]] == [False]
    with container.read_sessions.begin() as session:
        row = session.get(WorkerJob, "sms_send")
        assert row is not None and (row.runs, row.failures, row.last_ok) == (2, 2, False)
        assert row.last_error is not None and "SMS_PROVIDER_URL" in row.last_error


def _retention_task(container: Container, **params: Any) -> str:
    with container.sessions.begin() as session:
        task, created = queue.enqueue(
            session=session,
            kind="retention_run",
            target="lmt-group/loyalty",
            params={"policy": "lmt-group", "source": "loyalty", **params},
            created_by="test",
            now=container.clock.now(),
        )
        assert created
        return task.id


def test_a_task_left_by_a_dead_worker_is_resumed_by_the_next(
    container: Container, loyalty: sa.Engine
) -> None:
    task_id = _retention_task(container, batch_size=5)
    with container.sessions.begin() as session:  # a worker took it, then died: its lease ran out
        taken = queue.claim_next(
            session=session, owner="dead", now=NOW - timedelta(minutes=5), lease=timedelta(minutes=1)
        )
        assert taken is not None and taken.id == task_id
    assert Worker(container, ports(), only=set()).drain_tasks() == 1
    with container.read_sessions.begin() as session:
        task = session.get(WorkerTask, task_id)
        assert task is not None and task.status == "done" and task.attempts == 2
        assert task.started_at == NOW - timedelta(minutes=5)  # when the first worker took it
        assert task.result["rows_removed"] == 40 and task.result["status"] == "finished"
    with loyalty.connect() as conn:
        assert conn.execute(sa.text("select count(*) from members")).scalar_one() == 2


def test_a_stopping_worker_hands_its_task_back_at_a_batch_boundary_and_the_next_finishes(
    container: Container, loyalty: sa.Engine
) -> None:
    task_id = _retention_task(container, batch_size=5)
    worker = Worker(container, ports(), only=set())
    real = container.retention_connectors

    def stop_after_first_batch(rules: SourceRules) -> Any:
        connector = real(rules)
        purge = connector.purge

        def purge_then_stop(**kw: Any) -> int:
            n = purge(**kw)
            worker.stop.set()  # SIGTERM arrives during the first batch
            return n

        connector.purge = purge_then_stop  # type: ignore[method-assign]
        return connector

    container.retention_connectors = stop_after_first_batch
    assert worker.drain_tasks() == 1
    with container.read_sessions.begin() as session:
        task = session.get(WorkerTask, task_id)
        assert task is not None and task.status == "queued" and task.lease_owner is None
        assert task.started_at == NOW and task.attempts == 1  # recorded when the worker took it
        assert task.progress["tables"]["members"]["removed"] == 5  # the batch it finished counts
    with loyalty.connect() as conn:
        assert conn.execute(sa.text("select count(*) from members")).scalar_one() == 37
    container.retention_connectors = real
    assert Worker(container, ports(), only=set()).drain_tasks() == 1
    with container.read_sessions.begin() as session:
        task = session.get(WorkerTask, task_id)
        assert task is not None and task.status == "done" and task.result["rows_removed"] == 40
        runs = session.scalars(select(WorkerTask)).all()
        assert len(runs) == 1
    with loyalty.connect() as conn:
        assert conn.execute(sa.text("select count(*) from members")).scalar_one() == 2


def test_a_retried_request_queues_its_task_once(container: Container) -> None:
    first = _retention_task(container)
    with container.sessions.begin() as session:
        again, created = queue.enqueue(
            session=session, kind="retention_run", target="lmt-group/loyalty", created_by="test", now=NOW
        )
    assert again.id == first and not created
