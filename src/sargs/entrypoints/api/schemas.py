"""API request and response models shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState

# --- errors: every error answer has this one shape (sargs.entrypoints.api.errors) ----------------


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence for people, and the field at fault if one is."""

    model_config = ConfigDict(extra="allow")  # e.g. `problems` on 422, `rejection_id` on not_eligible

    code: str
    message: str
    field: str | None = None


class ErrorRead(BaseModel):
    error: ErrorDetail


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be parsed.",
    401: "No valid API token.",
    403: "The token's role or controller scope does not allow this, or X-Access-Reason is missing.",
    404: "Not found, or not visible to this token.",
    409: "Contradicts what is stored (e.g. an idempotency key reused for other data).",
    413: "The body is too large (over 1 MiB; 16 KiB for the SMS webhook).",
    415: "Unsupported content type.",
    422: "Invalid input (or a NUL character anywhere in the request); `error.field` names the field.",
    503: "The database is unavailable; nothing was changed. Retry after `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses a route answers with, in the error shape."""
    return {status: {"model": ErrorRead, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


# Every route behind a token: authentication, authorisation, validation, database outage.
AUTHENTICATED_ERRORS = error_responses(401, 403, 422, 503)


class EventRead(BaseModel):
    id: str
    subject_id: str
    controller: str
    purpose: str
    action: str
    channel: str
    actor_type: str
    actor_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    policy_id: str
    policy_version: str
    evidence: dict[str, Any]
    idempotency_key: str | None
    chain_seq: int
    hash: str

    @classmethod
    def of(cls, e: ConsentEvent) -> EventRead:
        return cls.model_validate(e, from_attributes=True)


class StateRead(BaseModel):
    controller: str
    purpose: str
    status: str
    allowed: bool
    since: datetime
    event_id: str
    channel: str

    @classmethod
    def of(cls, s: ConsentState) -> StateRead:
        return cls(
            controller=s.controller,
            purpose=s.purpose,
            status=s.status,
            allowed=s.status == "granted",
            since=s.since,
            event_id=s.event_id,
            channel=s.channel,
        )


class RejectionRead(BaseModel):
    id: str
    controller: str
    purpose: str
    action: str
    channel: str
    reason: str
    message: str
    occurred_at: datetime

    @classmethod
    def of(cls, r: ConsentRejection) -> RejectionRead:
        return cls.model_validate(r, from_attributes=True)


# --- background tasks (sargs worker runs them; issue 14) -----------------------------------------


class TaskRead(BaseModel):
    """Long work queued for the worker: poll `status_url` until `status` is done or failed."""

    id: str
    kind: str
    status: str  # queued | running | done | failed
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    progress: dict[str, Any]  # fulfilment: {sources: {id: state}, done, total}; retention: {tables: ...}
    result: dict[str, Any]
    error: str | None
    status_url: str

    @classmethod
    def of(cls, task: Any, status_url: str) -> TaskRead:
        return cls(
            id=task.id,
            kind=task.kind,
            status=task.status,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            attempts=task.attempts,
            progress=dict(task.progress or {}),
            result=dict(task.result or {}),
            error=task.error,
            status_url=status_url,
        )


def accepted(task: TaskRead) -> Any:
    """202 Accepted with the task, its status URL in `Location`."""
    from fastapi.responses import JSONResponse

    return JSONResponse(task.model_dump(mode="json"), status_code=202, headers={"Location": task.status_url})
