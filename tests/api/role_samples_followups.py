"""Sample requests for a fulfilled request's follow-ups (issue 16 part 2): a manual source's task to
mark done and a recipient's notice to confirm, merged into the role-matrix test. Each role's test
seeds its own task and notice (the fixture is per test), so every admitted role's POST succeeds once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sargs.core.ids import new_id
from sargs.domains.dsr.followup_model import DsrRecipientNotice, DsrTask
from sargs.entrypoints.container import Container

Sample = tuple[str, str, dict[str, Any]]
NOTE = {"note": "told by phone"}


def seed_followups(container: Container, request_id: str) -> dict[str, str]:
    now = container.clock.now()
    with container.sessions.begin() as session:
        task = DsrTask(
            id=new_id(),
            request_id=request_id,
            source="paper-archive",
            operation="collect",
            assignee="archive",
            status="open",
            created_at=now - timedelta(days=40),
            due_at=now - timedelta(days=10),  # overdue: the overdue list has a row to show
        )
        notice = DsrRecipientNotice(
            id=new_id(),
            request_id=request_id,
            recipient="printer",
            name="Printer",
            language="lv",
            channel="none",
            status="told",
            created_at=now,
            expires_at=now + timedelta(days=30),
        )
        session.add_all([task, notice])
    return {"task_id": task.id, "notice_id": notice.id}


def followup_api_samples(seeded: dict[str, str]) -> dict[str, Sample]:
    rid = seeded["dsr_id"]
    return {
        "GET /api/v1/dsr/requests/{request_id}/followups": (
            "GET",
            f"/api/v1/dsr/requests/{rid}/followups",
            {},
        ),
        "POST /api/v1/dsr/requests/{request_id}/tasks/{task_id}/done": (
            "POST",
            f"/api/v1/dsr/requests/{rid}/tasks/{seeded['task_id']}/done",
            {"json": NOTE},
        ),
        "POST /api/v1/dsr/requests/{request_id}/notices/{notice_id}/confirm": (
            "POST",
            f"/api/v1/dsr/requests/{rid}/notices/{seeded['notice_id']}/confirm",
            {"json": NOTE},
        ),
        "GET /api/v1/dsr/tasks/overdue": ("GET", "/api/v1/dsr/tasks/overdue", {}),
    }


def followup_console_samples(seeded: dict[str, str]) -> dict[str, Sample]:
    rid = seeded["dsr_id"]
    return {
        "POST /console/dsr/{request_id}/tasks/{task_id}/done": (
            "POST",
            f"/console/dsr/{rid}/tasks/{seeded['task_id']}/done",
            {"data": NOTE},
        ),
        "POST /console/dsr/{request_id}/notices/{notice_id}/confirm": (
            "POST",
            f"/console/dsr/{rid}/notices/{seeded['notice_id']}/confirm",
            {"data": NOTE},
        ),
    }
