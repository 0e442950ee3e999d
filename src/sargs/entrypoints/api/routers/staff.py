"""Staff accounts, for admins and DPOs (R-ACC-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sargs.domains.staff.service import StaffView, add_staff, disable_staff, list_staff
from sargs.domains.tokens.service import Principal
from sargs.entrypoints.api.deps import ContainerDep, Permit, audit
from sargs.entrypoints.api.schemas import AUTHENTICATED_ERRORS, error_responses

router = APIRouter(tags=["staff"], responses=AUTHENTICATED_ERRORS)

Manager = Annotated[Principal, Depends(Permit("staff.manage"))]


class StaffCreate(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    role: str
    password: str = Field(min_length=1, max_length=500)
    controllers: list[str] | None = None


class StaffDisable(BaseModel):
    email: str = Field(min_length=3, max_length=254)


class StaffRead(BaseModel):
    id: str
    email: str
    name: str
    role: str
    controllers: list[str] | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, v: StaffView) -> StaffRead:
        return cls(
            id=v.id,
            email=v.email,
            name=v.name,
            role=v.role,
            controllers=list(v.controllers) if v.controllers else None,
            disabled=v.disabled,
            created_at=v.created_at,
            last_login_at=v.last_login_at,
        )


@router.get("/staff", response_model=list[StaffRead])
def staff_list(container: ContainerDep, principal: Manager) -> list[StaffRead]:
    """Staff accounts within the caller's controllers."""
    with container.read_sessions.begin() as session:
        return [StaffRead.of(v) for v in list_staff(session=session, by=principal)]


@router.post("/staff", status_code=201, response_model=StaffRead, responses=error_responses(400, 409, 413))
def staff_add(body: StaffCreate, request: Request, container: ContainerDep, principal: Manager) -> StaffRead:
    """Create a staff account (a DPO may create every role but admin, within its controllers)."""
    for c in body.controllers or []:
        container.registry.policy_for(c)
    with container.sessions.begin() as session:
        view = add_staff(
            session=session,
            email=body.email,
            name=body.name,
            role=body.role,
            password=body.password,
            controllers=body.controllers,
            now=container.clock.now(),
            by=principal,
        )
        audit(session, container, principal, request, "change", controllers=body.controllers)
    return StaffRead.of(view)


@router.post("/staff/disable", response_model=StaffRead, responses=error_responses(400, 404, 413))
def staff_disable(
    body: StaffDisable, request: Request, container: ContainerDep, principal: Manager
) -> StaffRead:
    """Disable an account; its console sessions end at once."""
    with container.sessions.begin() as session:
        view = disable_staff(session=session, email=body.email, now=container.clock.now(), by=principal)
        audit(session, container, principal, request, "change", controllers=view.controllers)
    return StaffRead.of(view)
