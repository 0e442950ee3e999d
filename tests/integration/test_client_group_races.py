"""Imports meeting concurrent writers (issue 19): a person created by an SMS while an import batch
is being applied ends up one person, in the imported group; the worker's sync job runs a source."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from sargs.domains.subjects import groups
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject
from sargs.domains.subjects.service import client_group, create_subject, find_subject_id
from sargs.entrypoints.container import Container
from sargs.entrypoints.worker.jobs import JobContext, WorkerPorts, catalogue

PHONE = "+37129800001"


def import_one(container: Container) -> groups.GroupReport:
    return groups.apply_records(
        sessions=container.sessions,
        registry=container.registry,
        records=[(2, {"msisdn": PHONE, "controller": "lmt", "client_group": "own"})],
        clock=container.clock.now,
        by="import",
        region="LV",
    )


def the_group(container: Container) -> str | None:
    with container.sessions.begin() as s:
        sid = find_subject_id(session=s, identity=Identity("msisdn", PHONE))
        assert sid is not None
        return client_group(session=s, subject_id=sid, controller="lmt")


def test_a_person_created_while_the_batch_runs_is_joined_not_duplicated(container: Container) -> None:
    inserted, release = threading.Event(), threading.Event()

    def sms_creates_the_person() -> None:
        with container.sessions.begin() as s:
            create_subject(
                session=s,
                identities=[Identity("msisdn", PHONE)],
                now=container.clock.now(),
                groups={"lmt": "other_operator"},
            )
            inserted.set()
            release.wait(5)

    writer = threading.Thread(target=sms_creates_the_person)
    writer.start()
    assert inserted.wait(5)
    threading.Timer(0.5, release.set).start()  # commits while the import waits on it
    report = import_one(container)
    writer.join()
    assert report.failed == 0 and report.joined == 1
    with container.sessions.begin() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Subject)) == 1
    assert the_group(container) == "own"


def test_a_stale_read_hits_the_unique_key_and_the_batch_is_applied_again(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with container.sessions.begin() as s:
        create_subject(session=s, identities=[Identity("msisdn", PHONE)], now=container.clock.now())
    real, calls = groups._owners, []

    def stale_once(session, identities):  # type: ignore[no-untyped-def]
        calls.append(1)
        return {} if len(calls) == 1 else real(session, identities)

    monkeypatch.setattr(groups, "_owners", stale_once)
    report = import_one(container)
    assert len(calls) == 2 and report.created == 0 and report.joined == 1
    assert the_group(container) == "own"


def test_the_worker_runs_each_declared_source_as_its_own_job(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = catalogue(container)
    key, job = jobs["subjects_sync:lmt-group/billing"]
    assert key == "subjects_sync"
    ctx = JobContext(container=container, ports=WorkerPorts(sms=None, mail=None, callbacks=None))  # type: ignore[arg-type]
    monkeypatch.delenv("SARGS_CLIENTS_BILLING_URL", raising=False)
    assert job(ctx) == "not configured (SARGS_CLIENTS_BILLING_URL)"
    from sargs.integrations.sources.client_groups import client_rows

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE subscribers (id INTEGER PRIMARY KEY, msisdn TEXT, account_no TEXT, status TEXT)"
        )
        c.exec_driver_sql(f"INSERT INTO subscribers (msisdn, status) VALUES ('{PHONE}', 'active')")
    engine.dispose()
    monkeypatch.setenv("SARGS_CLIENTS_BILLING_URL", f"sqlite:///{tmp_path / 'b.db'}")
    container.client_rows = client_rows
    assert job(ctx).startswith("1 rows: 1 new people")
    assert the_group(container) == "own"
