from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

import sargs
from sargs.entrypoints.api.deps import ContainerDep
from sargs.entrypoints.api.schemas import error_responses

router = APIRouter(tags=["health"], responses=error_responses(422, 503))


@router.get("/health")
def health(container: ContainerDep) -> dict[str, object]:
    """Liveness and database reachability; no authentication."""
    with container.read_sessions.begin() as session:
        session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "version": sargs.__version__,
        "database": container.engine.dialect.name,
        "policies": [{"id": p.id, "version": p.version} for p in container.registry.policies],
    }
