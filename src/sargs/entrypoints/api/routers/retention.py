"""Retention plans and runs, legal holds and the destruction log, for DPOs and admins (R-RET-1, R-RET-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from sargs.core.errors import ConfigurationError, InvalidInput, NotFound, PermissionDenied
from sargs.domains.access.principal import Principal
from sargs.domains.jobs import tasks
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.retention.admission import check_runnable
from sargs.domains.retention.coverage import retained_sources
from sargs.domains.retention.history import destruction_log, list_runs
from sargs.domains.retention.holds import HoldView, add_hold, list_holds, release_hold
from sargs.domains.retention.internal import INTERNAL_SOURCE
from sargs.domains.retention.model import DestructionLogEntry, RetentionRun
from sargs.domains.retention.plan import SourcePlan, plan
from sargs.domains.subjects.identifiers import parse_identity
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, TaskRead, accepted, error_responses
from sargs.entrypoints.container import Container

router = APIRouter(tags=["retention"], responses=AUTHENTICATED_ERRORS)

Manager = Annotated[Principal, Depends(Permit("retention.manage"))]
RUN_ROW_LIMIT = 100_000  # an API call purges at most this many rows; the next call continues


def visible_sources(container: Container | PolicyRegistry, principal: Principal) -> set[tuple[str, str]]:
    """(policy, source) pairs whose controllers are all within the caller's scope; Sargs' own for unscoped."""
    registry = container if isinstance(container, PolicyRegistry) else container.registry
    pairs = {
        (p.id, s.id)
        for p, s in retained_sources(registry=registry)
        if all(principal.may_see(c) for c in (s.controllers or [c.id for c in p.controllers]))
    }
    if principal.controllers is None:
        pairs.add((INTERNAL_SOURCE, INTERNAL_SOURCE))
    return pairs


def hold_sources(container: Container | PolicyRegistry, principal: Principal) -> set[str] | None:
    """The sources whose legal holds this caller manages; None for a group-wide caller (all, and
    holds on people, which reach every company's sources)."""
    if principal.controllers is None:
        return None
    return {source for _, source in visible_sources(container, principal)}


class TableCountsRead(BaseModel):
    table: str
    action: str
    rules: list[str]
    reasons: list[str]
    expired: int
    to_purge: int
    held: int
    archive: int
    blocked: int


class SourcePlanRead(BaseModel):
    policy: str
    source: str
    as_of: datetime
    error: str | None
    tables: list[TableCountsRead]

    @classmethod
    def of(cls, p: SourcePlan) -> SourcePlanRead:
        return cls(
            policy=p.policy_id,
            source=p.source_id,
            as_of=p.as_of,
            error=p.error,
            tables=[
                TableCountsRead(
                    table=t.table,
                    action=t.action,
                    rules=list(t.rules),
                    reasons=list(t.reasons),
                    expired=t.counts.expired,
                    to_purge=t.counts.to_purge,
                    held=t.counts.held,
                    archive=t.counts.archive,
                    blocked=t.counts.blocked,
                )
                for t in p.tables
            ],
        )


class RunCreate(BaseModel):
    policy: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    max_rows: int = Field(default=RUN_ROW_LIMIT, ge=1, le=RUN_ROW_LIMIT)


class RunRead(BaseModel):
    id: str
    policy: str
    source: str
    status: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    rows_removed: int
    counts: dict[str, Any]
    error: str | None

    @classmethod
    def of(cls, r: RetentionRun) -> RunRead:
        return cls(
            id=r.id,
            policy=r.policy_id,
            source=r.source_id,
            status=r.status,
            as_of=r.as_of,
            started_at=r.started_at,
            finished_at=r.finished_at,
            started_by=r.started_by,
            rows_removed=r.rows_removed,
            counts=dict(r.counts or {}),
            error=r.error,
        )


class LogRead(BaseModel):
    seq: int
    run_id: str
    policy: str
    source: str
    table: str
    rules: list[str]
    action: str
    status: str
    rows: int
    key_first: str | None
    key_last: str | None
    at: datetime

    @classmethod
    def of(cls, e: DestructionLogEntry) -> LogRead:
        return cls(
            seq=e.seq,
            run_id=e.run_id,
            policy=e.policy_id,
            source=e.source_id,
            table=e.table_name,
            rules=e.rules.split(","),
            action=e.action,
            status=e.status,
            rows=e.rows,
            key_first=e.key_first,
            key_last=e.key_last,
            at=e.at,
        )


class HoldCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    identity: str | None = Field(default=None, max_length=300, description="msisdn:…, email:… or customer:…")
    source: str | None = Field(default=None, max_length=64)
    table: str | None = Field(default=None, max_length=130)
    until: datetime | None = None


class HoldRead(BaseModel):
    id: str
    scope: str
    target: str
    reason: str
    created_by: str
    created_at: datetime
    until: datetime | None
    released_at: datetime | None

    @classmethod
    def of(cls, h: HoldView) -> HoldRead:
        return cls(**vars(h))


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


@router.get("/retention/plan", response_model=list[SourcePlanRead], responses=error_responses(422))
def retention_plan(
    container: ContainerDep,
    principal: Manager,
    policy: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SourcePlanRead]:
    """Dry run: per source and table, rows expired now, why, and what a run would do."""
    allowed = visible_sources(container, principal)
    with container.read_sessions.begin() as session:
        plans = plan(
            session=session,
            registry=container.registry,
            connectors=container.retention_connectors,
            now=container.clock.now(),
            policy_id=policy,
            source_id=source,
        )
    return [SourcePlanRead.of(p) for p in plans if (p.policy_id, p.source_id) in allowed]


@router.get("/retention/runs", response_model=list[RunRead])
def retention_runs(
    container: ContainerDep, principal: Manager, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[RunRead]:
    """The latest runs, newest first."""
    allowed = visible_sources(container, principal)
    with container.read_sessions.begin() as session:
        return [
            RunRead.of(r)
            for r in list_runs(session=session, limit=limit)
            if (r.policy_id, r.source_id) in allowed
        ]


@router.post(
    "/retention/runs",
    status_code=202,
    response_model=TaskRead,
    responses=error_responses(400, 403, 409, 413, 422),
)
def retention_run(body: RunCreate, request: Request, container: ContainerDep, principal: Manager) -> Any:
    """Queue a purge of one source's expired rows for the worker (at most `max_rows`; it resumes the
    source's unfinished run) and answer 202 with the task; a second call while it is queued or
    running answers with the same task."""
    if (body.policy, body.source) not in visible_sources(container, principal):
        retained_sources(registry=container.registry, policy_id=body.policy, source_id=body.source)
        raise PermissionDenied(f"this credential may not purge {body.policy}/{body.source}")
    now = container.clock.now()
    with container.sessions.begin() as session:  # the task and its access-log row land together
        try:
            check_runnable(
                session=session,
                registry=container.registry,
                connectors=container.retention_connectors,
                policy_id=body.policy,
                source_id=body.source,
                now=now,
            )
        except ConfigurationError as exc:  # the source's URL is not set or it cannot be reached
            raise InvalidInput(exc.message, field="source") from None
        task, _ = tasks.enqueue(
            session=session,
            kind="retention_run",
            target=f"{body.policy}/{body.source}",
            params={
                "policy": body.policy,
                "source": body.source,
                "batch_size": body.batch_size,
                "max_rows": body.max_rows,
                "started_by": _actor(principal),
            },
            created_by=_actor(principal),
            now=now,
        )
        audit(session, container, principal, request, "change")
        return accepted(TaskRead.of(task, task_url(task.id)))


def task_url(task_id: str) -> str:
    return f"/api/v1/retention/tasks/{task_id}"


@router.get("/retention/tasks/{task_id}", response_model=TaskRead, responses=error_responses(404))
def retention_task(task_id: str, container: ContainerDep, principal: Manager) -> TaskRead:
    """A queued retention run: its progress per table while it runs, then its result (`run_id`)."""
    with container.read_sessions.begin() as session:
        task = tasks.get_task(session=session, task_id=task_id)
        policy, source = str(task.params.get("policy")), str(task.params.get("source"))
        if task.kind != "retention_run" or (policy, source) not in visible_sources(container, principal):
            raise NotFound("no such task", field="task_id")
        return TaskRead.of(task, task_url(task.id))


@router.get("/retention/log", response_model=list[LogRead])
def retention_log(
    container: ContainerDep,
    principal: Manager,
    run: Annotated[str | None, Query(max_length=32)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[LogRead]:
    """The destruction log, newest first: what was removed, when, under which rules, by which run."""
    allowed = visible_sources(container, principal)
    with container.read_sessions.begin() as session:
        entries = destruction_log(session=session, run_id=run, limit=limit, before_seq=before)
    return [LogRead.of(e) for e in entries if (e.policy_id, e.source_id) in allowed]


@router.get("/retention/holds", response_model=list[HoldRead])
def retention_holds(
    container: ContainerDep, principal: Manager, include_released: bool = False
) -> list[HoldRead]:
    """Legal holds in force (or all of them); people's identities masked."""
    with container.read_sessions.begin() as session:
        holds = list_holds(
            session=session,
            now=container.clock.now(),
            include_released=include_released,
            sources=hold_sources(container, principal),
        )
    return [HoldRead.of(h) for h in holds]


@router.post(
    "/retention/holds",
    status_code=201,
    response_model=HoldRead,
    responses=error_responses(400, 409, 413, 422),
)
def retention_hold_add(
    body: HoldCreate, request: Request, container: ContainerDep, principal: Manager
) -> HoldRead:
    """Hold a person (`identity`) or a table (`source` and `table`): retention leaves their rows alone."""
    identity = (
        parse_identity(body.identity, region=container.settings.default_region) if body.identity else None
    )
    with container.sessions.begin() as session:
        view = add_hold(
            session=session,
            registry=container.registry,
            reason=body.reason,
            created_by=_actor(principal),
            now=container.clock.now(),
            identity=identity,
            source_id=body.source,
            table=body.table,
            until=body.until,
            sources=hold_sources(container, principal),
        )
        audit(session, container, principal, request, "change")
    return HoldRead.of(view)


@router.post(
    "/retention/holds/{hold_id}/release",
    response_model=HoldRead,
    responses=error_responses(400, 404, 409, 413),
)
def retention_hold_release(
    hold_id: str, request: Request, container: ContainerDep, principal: Manager
) -> HoldRead:
    """End a hold; the next run purges what it kept if the rules say so."""
    with container.sessions.begin() as session:
        view = release_hold(
            session=session,
            hold_id=hold_id[:32],
            released_by=_actor(principal),
            now=container.clock.now(),
            sources=hold_sources(container, principal),
        )
        audit(session, container, principal, request, "change")
    return HoldRead.of(view)
