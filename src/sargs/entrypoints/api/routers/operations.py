"""Probes and metrics for operators, outside /api/v1: `GET /livez`, `GET /readyz`, `GET /metrics`.

- `/livez`: the process answers (no database); a load balancer or Kubernetes restarts it when not.
- `/readyz`: the database answers, its schema is at the migrations' head, and policies are loaded;
  otherwise 503 naming what failed, so traffic goes elsewhere until it is.
- `/metrics`: Prometheus text; `Authorization: Bearer <SARGS_METRICS_TOKEN>`, or open in demo mode
  when no token is set, else 404.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.api.errors import error_body
from sargs.entrypoints.api.metrics import Metrics, token_matches
from sargs.entrypoints.container import Container

router = APIRouter(tags=["operations"], include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code (read once)."""
    from alembic.script import ScriptDirectory  # here, not at import: alembic is slow to import

    from sargs.migrations import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def readiness(container: Container) -> dict[str, str]:
    """Each check's result: "ok" or what is wrong (no personal data, no connection details)."""
    from alembic.runtime.migration import MigrationContext

    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
        checks["database"] = "ok"
        heads = migration_heads()
        if current == heads:
            checks["migrations"] = "ok"
        else:
            at = ", ".join(sorted(current)) or "no schema"
            checks["migrations"] = (
                f"database at {at}, code expects {', '.join(sorted(heads))}; run `sargs db upgrade`"
            )
    except Exception as exc:  # any failure to reach the database means: not ready
        checks["database"] = f"unavailable ({type(exc).__name__})"
        checks["migrations"] = "unknown"
    checks["policies"] = "ok" if container.registry.policies else "no policy loaded"
    return checks


@router.get("/livez")
async def livez() -> JSONResponse:
    """Liveness: the process answers. Touches no database."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
def readyz(container: ContainerDep) -> JSONResponse:
    """Readiness: database, migrations at head, policies loaded; 503 naming what failed."""
    checks = readiness(container)
    failed = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, Any] = {"status": "ready" if not failed else "not_ready", "checks": checks}
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=503 if failed else 200, headers=NO_STORE)


@router.get("/metrics")
def metrics(request: Request, container: ContainerDep) -> Response:
    """Prometheus text format; see the module docstring for who may read it."""
    token = container.settings.metrics_token
    if token is not None:
        if not token_matches(request.headers.get("authorization"), token):
            return JSONResponse(
                error_body("unauthenticated", "a valid metrics token is required"),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer", **NO_STORE},
            )
    elif not container.settings.demo:
        return JSONResponse(error_body("not_found", "Not Found"), status_code=404)
    source: Metrics = request.app.state.metrics
    return Response(source.render(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)
