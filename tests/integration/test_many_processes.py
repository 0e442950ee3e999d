"""Two real `sargs serve` processes and two `sargs worker` processes on one database (PostgreSQL
when SARGS_TEST_DATABASE_URL says so): the servers share their rate limits through Redis
(SARGS_TEST_REDIS_URL) and refuse a token revoked by another process within a second; the workers
run every due slot of every job exactly once between them. The processes start once for the
module (a start costs seconds)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from sargs.bootstrap import example_policy_paths
from sargs.core.db import Base
from sargs.domains.tokens.service import create_token, revoke_token
from sargs.entrypoints.api.deps import TOKEN_CACHE_SECONDS
from tests.helpers import PG_URL
from tests.processes import Processes, free_port, sargs, sargs_env, start_processes

REDIS_URL = os.environ.get("SARGS_TEST_REDIS_URL")
LIMIT = 3  # SARGS_WEB_RATE_LIMIT_PER_MINUTE: cookie choices per address per minute
SECRET = "many-processes-test-secret-key-0123456789"
EVERY_SECOND = ("sms_send", "mail_send", "dsr_callbacks", "breach_alerts", "ledger_verify")
RAN = re.compile(r"job (\S+) slot (\d{8}T\d{6}\.\d{6}Z) ")
WORKERS = (2, 3)  # the processes' indices


def flush_sargs_keys(url: str) -> None:
    """Delete this test database's Sargs keys (sargs:*), and nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="sargs:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class Servers:
    urls: list[str]
    env: dict[str, str]
    procs: Processes
    db_url: str


@pytest.fixture(scope="module")
def module_db(_template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One clean database for the module's servers (as conftest's db_url, but started once)."""
    if PG_URL:
        yield PG_URL
        engine = create_engine(PG_URL)
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return
    path = tmp_path_factory.mktemp("many-processes") / "sargs.db"
    shutil.copy(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture(scope="module")
def servers(module_db: str) -> Iterator[Servers]:
    """Two `sargs serve` processes on one database, sharing Redis when SARGS_TEST_REDIS_URL is set."""
    ports = [free_port(), free_port()]
    settings = {
        "database_url": module_db,
        "policy_files": ",".join(str(p) for p in example_policy_paths()),
        "secret_key": SECRET,
        "sms_webhook_secret": SECRET,
        "web_rate_limit_per_minute": str(LIMIT),
        "log_level": "DEBUG",  # the workers log each slot they run
        "worker_schedule": json.dumps(
            {
                **dict.fromkeys(EVERY_SECOND, "1s"),
                "retention": "off",
                "dsr_remind": "off",
                "policy_review": "off",
            }
        ),
    }
    if REDIS_URL:
        settings["redis_url"] = REDIS_URL
        flush_sargs_keys(REDIS_URL)
    env = sargs_env(**settings)
    try:
        commands = [sargs("serve", "--port", str(p)) for p in ports] + [sargs("worker"), sargs("worker")]
        with start_processes(commands, env) as procs:
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            procs.wait_http([f"{u}/api/v1/health" for u in urls])
            yield Servers(urls, env, procs, module_db)
    finally:
        if REDIS_URL:
            flush_sargs_keys(REDIS_URL)


def make_token(db_url: str, role: str) -> str:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            return create_token(session=session, name=f"test {role}", role=role, now=datetime.now(UTC)).secret
    finally:
        engine.dispose()


def revoke(db_url: str, token_id: str) -> None:
    """Revoke as `sargs token revoke` does, from a third process (this one)."""
    engine = create_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            revoke_token(session=session, token_id=token_id, now=datetime.now(UTC))
    finally:
        engine.dispose()


def choice(i: int) -> dict[str, object]:
    return {"visitor_id": f"visitor-many-processes-{i:04d}", "controller": "lmt", "accepted": ["analytics"]}


def test_a_rate_limit_holds_across_two_servers(servers: Servers) -> None:
    if not REDIS_URL:
        pytest.skip(
            "set SARGS_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/1) to share rate limits through Redis"
        )
    statuses = [
        httpx.post(
            f"{servers.urls[i % 2]}/api/v1/web/cookie-consents", json=choice(i), timeout=10
        ).status_code
        for i in range(2 * LIMIT)
    ]
    assert sorted(statuses) == [201] * LIMIT + [429] * LIMIT, statuses
    assert statuses[:LIMIT] == [201] * LIMIT  # the first LIMIT, alternating between the servers


def test_a_token_revoked_in_another_process_is_refused_by_both_servers_within_a_second(
    servers: Servers,
) -> None:
    secret = make_token(servers.db_url, "admin")
    token_id = secret.removeprefix("sargs_").partition("_")[0]
    headers = {"Authorization": f"Bearer {secret}"}
    for url in servers.urls:  # both processes now hold the token in their cache
        assert httpx.get(f"{url}/api/v1/audit", headers=headers, timeout=10).status_code == 200
    revoke(servers.db_url, token_id)
    revoked_at = time.monotonic()
    # Once TOKEN_CACHE_SECONDS have passed since the revocation, no process may still take it: the
    # first request to each is refused (no timing is measured, only that bound).
    time.sleep(max(0.0, TOKEN_CACHE_SECONDS - (time.monotonic() - revoked_at)))
    for url in servers.urls:
        assert httpx.get(f"{url}/api/v1/audit", headers=headers, timeout=10).status_code == 401, url


def test_two_workers_run_each_due_slot_of_each_job_exactly_once(servers: Servers) -> None:
    if not PG_URL:
        pytest.skip("several workers need PostgreSQL (set SARGS_TEST_DATABASE_URL); on SQLite run one")
    deadline = time.monotonic() + 30
    while True:  # let both run a few seconds' slots, then read what each logged so far
        servers.procs.check_alive()
        runs = [[m.groups() for m in RAN.finditer(servers.procs.output(i))] for i in WORKERS]
        both = Counter(run for worker in runs for run in worker)
        if all(sum(1 for name, _ in both if name == job) >= 6 for job in EVERY_SECOND):
            break
        assert time.monotonic() < deadline, servers.procs.outputs()
        time.sleep(0.5)
    assert [run for run, n in both.items() if n > 1] == []  # no slot ran twice
    assert all(runs), "each worker ran some of the slots"
    for job in EVERY_SECOND:
        slots = sorted(
            datetime.strptime(slot, "%Y%m%dT%H%M%S.%fZ")
            for name, slot in both
            if name == job and slot.endswith(".000000Z")
        )
        settled = [t for t in slots if t <= slots[-1] - timedelta(seconds=2)]  # a later one may be running
        assert len(settled) >= 3, (job, slots)
        # every second from the first slot on was run by one of the two
        assert settled == [settled[0] + timedelta(seconds=i) for i in range(len(settled))], (job, slots)


def test_concurrent_writes_to_the_same_people_through_two_servers_are_all_kept_in_order(
    servers: Servers,
) -> None:
    """Both servers group the writes that arrive together (core.group_commit), and their groups
    lock the same people: every write is answered 201, none is lost, every chain verifies."""
    from concurrent.futures import ThreadPoolExecutor

    from sargs.domains.consent.verify import verify_ledger

    token = make_token(servers.db_url, "operator")
    people = [f"msisdn:+3712944{n:04d}" for n in range(6)]
    writes = [(servers.urls[i % 2], people[(i * 7) % 6], "grant" if i % 3 else "withdraw") for i in range(96)]

    def send(chunk: list[tuple[str, str, str]]) -> list[int]:
        codes = []
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for url, identity, action in chunk:
                body = {"controller": "lmt", "identity": identity, "purpose": "offers", "action": action}
                codes.append(http.post(f"{url}/api/v1/consents", json=body).status_code)
        return codes

    with ThreadPoolExecutor(8) as pool:
        codes = [c for chunk in pool.map(send, [writes[k::8] for k in range(8)]) for c in chunk]
    assert Counter(codes) == {201: len(writes)}
    engine = create_engine(servers.db_url)
    try:
        with Session(engine) as session:
            report = verify_ledger(session=session)
            per_person = session.execute(
                text(
                    "SELECT i.value, count(*), max(e.chain_seq) FROM consent_events e"
                    " JOIN subject_identities i ON i.subject_id = e.subject_id"
                    " WHERE i.value LIKE '+3712944%' GROUP BY i.value"
                )
            ).all()
    finally:
        engine.dispose()
    assert report.ok, report.problems
    expected = Counter(identity.removeprefix("msisdn:") for _, identity, _ in writes)
    assert {value: (n, top) for value, n, top in per_person} == {v: (n, n) for v, n in expected.items()}
