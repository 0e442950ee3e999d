"""`sargs worker` as real processes: SIGTERM stops one within 10 s and hands its task back; a worker
killed mid-task (SIGKILL) leaves it to the next worker, which finishes it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sargs.bootstrap import example_policy_paths
from sargs.domains.jobs import tasks as queue
from sargs.domains.jobs.model import WorkerJob, WorkerTask
from sargs.entrypoints.container import Container
from tests.retention_sources import loyalty_tables

EXPIRED = 400  # members past the loyalty programme's two years, purged two per batch


@pytest.fixture
def loyalty_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(engine)
    old = datetime.now(UTC) - timedelta(days=1000)
    with engine.begin() as conn:
        conn.execute(
            t["members"].insert(),
            [{"id": i, "msisdn": f"+371290{i:05d}", "joined_at": old} for i in range(1, EXPIRED + 1)]
            + [{"id": EXPIRED + 1, "msisdn": "+37129099999", "joined_at": datetime.now(UTC)}],
        )
    engine.dispose()
    yield url


def worker_env(db_url: str, loyalty_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARGS_")}
    off = {
        name: "off" for name in ("dsr_callbacks", "dsr_remind", "breach_alerts", "policy_review", "retention")
    }
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "SARGS_DATABASE_URL": db_url,
        "SARGS_POLICY_FILES": ",".join(str(p) for p in example_policy_paths()),
        "SARGS_SOURCE_LOYALTY_URL": loyalty_url,
        "SARGS_WORKER_LEASE_SECONDS": "2",
        "SARGS_WORKER_TASK_POLL_SECONDS": "0.2",
        "SARGS_WORKER_SCHEDULE": json.dumps({**off, "ledger_verify": "off"}),
    }


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sargs", "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def queue_purge(container: Container) -> str:
    with container.sessions.begin() as session:
        task, _ = queue.enqueue(
            session=session,
            kind="retention_run",
            target="lmt-group/loyalty",
            params={"policy": "lmt-group", "source": "loyalty", "batch_size": 2},
            created_by="test",
            now=datetime.now(UTC),
        )
        return task.id


def task_of(container: Container, task_id: str) -> WorkerTask:
    with container.read_sessions.begin() as session:
        task = session.get(WorkerTask, task_id, populate_existing=True)
        assert task is not None
        session.expunge(task)
        return task


def wait_for(what: str, check: Any, proc: subprocess.Popen[str] | None = None, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}:\n{out}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def removed(container: Container, task_id: str) -> int:
    tables = task_of(container, task_id).progress.get("tables") or {}
    return int((tables.get("members") or {}).get("removed") or 0)


def members_left(loyalty_url: str) -> int:
    engine = sa.create_engine(loyalty_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select count(*) from members")).scalar_one())
    finally:
        engine.dispose()


def test_sigterm_stops_a_busy_worker_within_10_seconds_and_its_task_resumes_elsewhere(
    container: Container, db_url: str, loyalty_url: str
) -> None:
    task_id = queue_purge(container)
    env = worker_env(db_url, loyalty_url)
    proc = start_worker(env)
    try:
        wait_for("the purge to be under way", lambda: removed(container, task_id) >= 3, proc)
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0 and took < 10, (rc, took)
    task = task_of(container, task_id)
    assert task.status == "queued" and task.lease_owner is None  # handed back, not left to time out
    with container.read_sessions.begin() as session:
        assert session.scalars(sa.select(WorkerJob).where(WorkerJob.lease_owner.is_not(None))).all() == []
    left = members_left(loyalty_url)
    assert 1 < left < EXPIRED + 1
    done = subprocess.run(
        [sys.executable, "-m", "sargs", "worker", "--once", "--only", "sms_send"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 task(s) run" in done.stdout
    task = task_of(container, task_id)
    assert task.status == "done" and task.result["rows_removed"] == EXPIRED, task.result
    assert members_left(loyalty_url) == 1


def test_a_worker_killed_mid_task_leaves_it_to_the_next_worker_which_finishes_it(
    container: Container, db_url: str, loyalty_url: str
) -> None:
    task_id = queue_purge(container)
    env = worker_env(db_url, loyalty_url)
    first = start_worker(env)
    try:
        wait_for("the purge to be under way", lambda: removed(container, task_id) >= 3, first)
    finally:
        first.kill()  # SIGKILL: no chance to hand anything back
        first.wait(timeout=10)
    assert task_of(container, task_id).status == "running"  # still leased to the dead worker
    second = start_worker(env)
    try:
        wait_for(
            "the next worker to finish it", lambda: task_of(container, task_id).status == "done", second, 120
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)
    task = task_of(container, task_id)
    assert task.attempts == 2 and task.result["status"] == "finished", task.result
    assert task.result["rows_removed"] == EXPIRED  # the resumed run counts both workers' batches
    assert members_left(loyalty_url) == 1
