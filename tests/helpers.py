"""Small helpers for tests (markers, direct SQL, the PostgreSQL test database)."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

# SARGS_TEST_DATABASE_URL names a PostgreSQL *server* (through its maintenance database, e.g.
# .../postgres). The suite never writes there: each test process creates its own database
# `sargs_test_<random>` on that server (create_test_database, at session start) and drops it at the
# end, so no existing database is ever downgraded or truncated. PG_URL is that database's URL.
PG_SERVER_URL = os.environ.get("SARGS_TEST_DATABASE_URL")
PG_URL = (
    make_url(PG_SERVER_URL)
    .set(database=f"sargs_test_{secrets.token_hex(5)}")
    .render_as_string(hide_password=False)
    if PG_SERVER_URL
    else None
)
requires_postgres = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set SARGS_TEST_DATABASE_URL")


def _on_server(statement: str) -> None:
    assert PG_SERVER_URL
    engine = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def create_test_database() -> None:
    """Create this session's own PostgreSQL database (a fresh, unique name; fails if it exists)."""
    if PG_URL:
        _on_server(f'CREATE DATABASE "{make_url(PG_URL).database}"')


def drop_test_database() -> None:
    """Drop this session's database (only the one create_test_database made), even if still in use."""
    if PG_URL:
        _on_server(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)')


def tasks_only_worker(container: object) -> Any:
    """A worker that runs background tasks and no periodic job (nothing it could send)."""
    from sargs.entrypoints.worker.jobs import WorkerPorts
    from sargs.entrypoints.worker.runner import Worker

    def unwired() -> object:
        raise AssertionError("a background task tried to send something")

    ports = WorkerPorts(sms=unwired, mail=unwired, callbacks=unwired)  # type: ignore[arg-type]
    return Worker(container, ports, only=set())  # type: ignore[arg-type]


def run_tasks(container: object) -> int:
    """Run every queued background task as `sargs worker` does; how many ran."""
    return int(tasks_only_worker(container).drain_tasks())


def fulfil_via_worker(client: object, container: object, request_id: str, headers: dict[str, str]) -> object:
    """POST .../fulfil (202, queued), let a worker run it, then GET the request (its detail, 200)."""
    queued = client.post(f"/api/v1/dsr/requests/{request_id}/fulfil", headers=headers)  # type: ignore[attr-defined]
    assert queued.status_code == 202, queued.text
    assert queued.headers["Location"] == f"/api/v1/dsr/requests/{request_id}/fulfilment"
    run_tasks(container)
    reason = {"X-Access-Reason": "test: the fulfilment's outcome"}
    return client.get(f"/api/v1/dsr/requests/{request_id}", headers={**headers, **reason})  # type: ignore[attr-defined]


def sql_sources_only(policies: list[Any], *, keep_http: bool = True) -> list[Any]:
    """The policies without their manual sources: for tests about the SQL sources, whose requests
    would otherwise wait for the retailer's paper-archive task (tested in test_dsr_followups).
    `keep_http=False` drops the retailer's e-mail platform too (tested in test_dsr_http_source)."""
    kept = {"sql", "http"} if keep_http else {"sql"}
    return [
        p.model_copy(update={"data_sources": [s for s in p.data_sources if s.kind in kept]}) for p in policies
    ]


def verified_request(
    container: Any,
    *,
    kind: str,
    identities: list[Any],
    requester: dict[str, Any],
    actor: Any,
    controller: str = "lytagra-lv",
    **extra: Any,
) -> str:
    """A rights request filed in person and its identity verified by an ID card: ready to fulfil."""
    from sargs.domains.dsr.intake import Intake, file_request
    from sargs.domains.dsr.service import lock_request, verify_identity

    with container.sessions.begin() as session:
        row = file_request(
            session=session,
            registry=container.registry,
            intake=Intake(
                controller=controller,
                kind=kind,
                channel="in_person",
                identities=identities,
                requester=requester,
                **extra,
            ),
            actor=actor,
            now=container.clock.now(),
        )
        verify_identity(
            session=session,
            request=lock_request(session=session, request_id=row.id),
            method="id_document",
            evidence={"document_type": "ID card"},
            actor=actor,
            now=container.clock.now(),
        )
        return str(row.id)


def run_apart(coroutine):  # type: ignore[no-untyped-def]
    """`asyncio.run` in a thread of its own: an event loop another test left running in this
    thread cannot refuse it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
