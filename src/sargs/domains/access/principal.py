"""The authenticated caller, whatever the credential (API token or staff session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sargs.core.errors import PermissionDenied
from sargs.domains.access.permissions import allows


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token or a staff member, with a role and controller scope (R-POL-2)."""

    kind: Literal["token", "staff"]
    id: str
    role: str
    controllers: tuple[str, ...] | None  # None: every controller

    def may_see(self, controller: str) -> bool:
        return self.controllers is None or controller in self.controllers

    def may(self, permission: str) -> bool:
        return allows(self.role, permission)

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless this principal's role has `permission`."""
        if not self.may(permission):
            raise PermissionDenied(f"role {self.role!r} may not do this ({permission})")

    def require_controller(self, controller: str) -> None:
        """Staff and tokens never reach a controller outside their scope (R-POL-2)."""
        if not self.may_see(controller):
            raise PermissionDenied(f"this credential is not scoped to controller {controller!r}")
