"""Small helpers for tests (markers, direct SQL)."""

from __future__ import annotations

import os
from typing import Any

import pytest

PG_URL = os.environ.get("SARGS_TEST_DATABASE_URL")
requires_postgres = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set SARGS_TEST_DATABASE_URL")


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
