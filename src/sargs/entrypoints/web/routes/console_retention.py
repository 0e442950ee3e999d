"""The console's retention page (R-RET-2): plans for every source, runs, the destruction log, legal holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sargs.core.errors import InvalidInput, NotFound, SargsError
from sargs.domains.jobs import tasks
from sargs.domains.jobs.model import WorkerTask
from sargs.domains.retention.admission import check_runnable
from sargs.domains.retention.coverage import retained_sources
from sargs.domains.retention.history import destruction_log, list_runs
from sargs.domains.retention.holds import add_hold, list_holds, release_hold
from sargs.domains.retention.plan import plan
from sargs.domains.subjects.identifiers import parse_identity
from sargs.entrypoints.api.deps import ContainerDep, audit
from sargs.entrypoints.api.routers.retention import RUN_ROW_LIMIT, hold_sources, visible_sources
from sargs.entrypoints.container import Container
from sargs.entrypoints.web import panel_retention  # noqa: F401  (registers the dashboard panel)
from sargs.entrypoints.web.render import render
from sargs.entrypoints.web.security import STAFF_COOKIE, StaffPermit, StaffUser, check_csrf

router = APIRouter()

RetentionManager = Annotated[StaffUser, Depends(StaffPermit("retention.manage"))]
Csrf = Annotated[str, Form(alias="csrf")]


def _page(
    request: Request, container: Container, user: StaffUser, status: int = 200, **extra: Any
) -> HTMLResponse:
    allowed = visible_sources(container, user.principal)
    now = container.clock.now()
    with container.read_sessions.begin() as session:
        plans = [
            p
            for p in plan(
                session=session,
                registry=container.registry,
                connectors=container.retention_connectors,
                now=now,
            )
            if (p.policy_id, p.source_id) in allowed
        ]
        runs = [r for r in list_runs(session=session, limit=20) if (r.policy_id, r.source_id) in allowed]
        log = [e for e in destruction_log(session=session, limit=50) if (e.policy_id, e.source_id) in allowed]
        holds = list_holds(session=session, now=now, sources=hold_sources(container, user.principal))
        open_runs = tasks.open_tasks(
            session=session, kind="retention_run", targets=[f"{p}/{s}" for p, s in sorted(allowed)]
        )
        shown = request.query_params.get("task")
        task = session.get(WorkerTask, shown) if shown else None
        if (
            task is None
            or task.kind != "retention_run"
            or task.target not in {f"{p}/{s}" for p, s in allowed}
        ):
            task = next(iter(open_runs.values()), None)
    sources = [
        (p.id, s.id, [t.name for t in s.tables]) for p, s in retained_sources(registry=container.registry)
    ]
    return render(
        request,
        container,
        "console/retention.html",
        cookie=STAFF_COOKIE,
        status=status,
        plans=plans,
        runs=runs,
        log=log,
        holds=holds,
        task=task,
        poll=f"/console/retention/tasks/{task.id}" if task else "",
        now=now,
        sources=[s for s in sources if (s[0], s[1]) in allowed],
        me=user.principal,
        **extra,
    )


@router.get("/retention")
def retention_page(request: Request, container: ContainerDep, user: RetentionManager) -> HTMLResponse:
    """Plans for both example policies (and Sargs' own tables), runs, the destruction log, holds."""
    return _page(request, container, user)


@router.post("/retention/run")
def retention_run(
    request: Request,
    container: ContainerDep,
    user: RetentionManager,
    csrf: Csrf,
    policy: Annotated[str, Form(max_length=64)],
    source: Annotated[str, Form(max_length=64)],
) -> Response:
    """Run retention on one source now (at most RUN_ROW_LIMIT rows; a second press continues)."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        if (policy, source) not in visible_sources(container, user.principal):
            raise InvalidInput(f"no source {policy}/{source} you may purge", field="source")
        with container.sessions.begin() as session:  # queued and logged together; the worker runs it
            check_runnable(
                session=session,
                registry=container.registry,
                connectors=container.retention_connectors,
                policy_id=policy,
                source_id=source,
                now=container.clock.now(),
            )
            task, _ = tasks.enqueue(
                session=session,
                kind="retention_run",
                target=f"{policy}/{source}",
                params={
                    "policy": policy,
                    "source": source,
                    "max_rows": RUN_ROW_LIMIT,
                    "started_by": f"staff:{user.principal.id}",
                },
                created_by=f"staff:{user.principal.id}",
                now=container.clock.now(),
            )
            audit(session, container, user.principal, request, "change")
    except SargsError as exc:
        return _page(
            request, container, user, status=409 if exc.code == "conflict" else 422, error=exc.message
        )
    return RedirectResponse(f"/console/retention?task={task.id}#task", status_code=303)


@router.get("/retention/tasks/{task_id}")
def retention_task(
    task_id: str, request: Request, container: ContainerDep, user: RetentionManager
) -> HTMLResponse:
    """A queued retention run's progress per table (the page polls it); a finished one reloads the page."""
    with container.read_sessions.begin() as session:
        task = tasks.get_task(session=session, task_id=task_id)
    if task.kind != "retention_run" or (
        str(task.params.get("policy")),
        str(task.params.get("source")),
    ) not in visible_sources(container, user.principal):
        raise NotFound("no such task", field="task_id")
    response = render(
        request,
        container,
        "console/_task.html",
        cookie=STAFF_COOKIE,
        task=task,
        poll=request.url.path,
        now=container.clock.now(),
        me=user.principal,
    )
    if task.status not in tasks.OPEN and request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/retention/holds")
def retention_hold_add(
    request: Request,
    container: ContainerDep,
    user: RetentionManager,
    csrf: Csrf,
    reason: Annotated[str, Form(max_length=500)],
    identity: Annotated[str, Form(max_length=300)] = "",
    target: Annotated[str, Form(max_length=200)] = "",
    until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Hold a person or a table (`target` is "source/table")."""
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        ends = None
        if until.strip():
            try:
                ends = datetime.fromisoformat(until.strip()).replace(tzinfo=UTC)
            except ValueError:
                raise InvalidInput("until must be a date like 2027-12-31", field="until") from None
        source, _, table = target.partition("/")
        with container.sessions.begin() as session:
            add_hold(
                session=session,
                registry=container.registry,
                reason=reason,
                created_by=f"staff:{user.principal.id}",
                now=container.clock.now(),
                identity=parse_identity(identity, region=container.settings.default_region)
                if identity.strip()
                else None,
                source_id=source or None,
                table=table or None,
                until=ends,
                sources=hold_sources(container, user.principal),
            )
            audit(session, container, user.principal, request, "change")
    except SargsError as exc:
        return _page(request, container, user, status=422, error=exc.message)
    return RedirectResponse("/console/retention#holds", status_code=303)


@router.post("/retention/holds/release")
def retention_hold_release(
    request: Request,
    container: ContainerDep,
    user: RetentionManager,
    csrf: Csrf,
    hold: Annotated[str, Form(max_length=32)],
) -> Response:
    check_csrf(request, container, STAFF_COOKIE, csrf)
    try:
        with container.sessions.begin() as session:
            release_hold(
                session=session,
                hold_id=hold,
                released_by=f"staff:{user.principal.id}",
                now=container.clock.now(),
                sources=hold_sources(container, user.principal),
            )
            audit(session, container, user.principal, request, "change")
    except SargsError as exc:
        return _page(request, container, user, status=422, error=exc.message)
    return RedirectResponse("/console/retention#holds", status_code=303)
