"""Staff accounts: add, disable, list, and sign in with a password (rate-limited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sargs.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from sargs.core.ids import new_id
from sargs.domains.access.permissions import GRANTABLE_ROLES, ROLES
from sargs.domains.access.principal import Principal
from sargs.domains.access.sessions import end_sessions_of
from sargs.domains.staff.model import StaffMember
from sargs.domains.staff.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from sargs.domains.subjects.identifiers import normalise_email

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class StaffView:
    id: str
    email: str
    name: str
    role: str
    controllers: tuple[str, ...] | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, row: StaffMember) -> StaffView:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            controllers=tuple(row.controllers) if row.controllers else None,
            disabled=row.disabled_at is not None,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )


def principal_of(row: StaffMember) -> Principal:
    return Principal("staff", row.id, row.role, tuple(row.controllers) if row.controllers else None)


def _check_grant(by: Principal | None, role: str, controllers: list[str] | None) -> None:
    """A manager may create only roles it may grant, within its own controllers."""
    if by is None:  # the command line on the server itself
        return
    by.require("staff.manage")
    if role not in GRANTABLE_ROLES.get(by.role, frozenset()):
        raise PermissionDenied(f"role {by.role!r} may not create {role!r} accounts")
    if by.controllers is not None:
        if not controllers:
            raise PermissionDenied("name the controllers the new account belongs to (your scope is limited)")
        for c in controllers:
            by.require_controller(c)


def add_staff(
    *,
    session: Session,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
    controllers: list[str] | None = None,
    by: Principal | None = None,
) -> StaffView:
    """Create a staff account; `by` is the manager creating it (None: the server's CLI)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_LENGTH} characters", field="password")
    if not name.strip():
        raise InvalidInput("name is required", field="name")
    _check_grant(by, role, controllers)
    address = normalise_email(email)
    if session.scalar(select(StaffMember.id).where(func.lower(StaffMember.email) == address)):
        raise Conflict("a staff account with this e-mail already exists", field="email")
    row = StaffMember(
        id=new_id(),
        email=address,
        name=name.strip(),
        role=role,
        controllers=sorted(set(controllers)) if controllers else None,
        password_hash=hash_password(password),
        created_at=now,
        created_by=f"{by.kind}:{by.id}" if by else "cli",
        failed_logins=0,
    )
    session.add(row)
    session.flush()
    return StaffView.of(row)


def _by_email(session: Session, email: str) -> StaffMember | None:
    try:
        address = normalise_email(email)
    except InvalidInput:
        return None
    return session.scalar(select(StaffMember).where(StaffMember.email == address))


def disable_staff(*, session: Session, email: str, now: datetime, by: Principal | None = None) -> StaffView:
    """Disable an account and end its sessions at once."""
    row = _by_email(session, email)
    if row is None:
        raise NotFound("no staff account with this e-mail")
    if by is not None:
        by.require("staff.manage")
        if row.role not in GRANTABLE_ROLES.get(by.role, frozenset()):
            raise PermissionDenied(f"role {by.role!r} may not disable {row.role!r} accounts")
        for c in row.controllers or []:
            by.require_controller(c)
    if row.disabled_at is None:
        row.disabled_at = now
    end_sessions_of(session=session, kind="staff", owner_id=row.id, now=now)
    session.flush()
    return StaffView.of(row)


def list_staff(*, session: Session, by: Principal | None = None) -> list[StaffView]:
    """Every account (or, for a scoped manager, those within its controllers)."""
    rows = session.scalars(select(StaffMember).order_by(StaffMember.created_at, StaffMember.email))
    views = [StaffView.of(r) for r in rows]
    if by is None or by.controllers is None:
        return views
    return [v for v in views if v.controllers and all(by.may_see(c) for c in v.controllers)]


def get_staff_principal(*, session: Session, staff_id: str) -> Principal | None:
    """The principal of an enabled account, or None."""
    row = session.get(StaffMember, staff_id)
    if row is None or row.disabled_at is not None:
        return None
    return principal_of(row)


def staff_name(*, session: Session, staff_id: str) -> str | None:
    row = session.get(StaffMember, staff_id)
    return row.name if row else None


def authenticate_staff(*, session: Session, email: str, password: str, now: datetime) -> Principal:
    """Check a password. Failures say nothing about which part was wrong; after
    MAX_FAILED_LOGINS failures the account is locked for LOCKOUT (counted in the database,
    so it holds across processes). The caller commits even on failure, to keep the count."""
    row = _by_email(session, email)
    ok = verify_password(row.password_hash if row else None, password)
    if row is None:
        raise Unauthenticated("wrong e-mail or password")
    if row.locked_until is not None and row.locked_until > now:
        raise Unauthenticated("too many failed sign-ins; try again later")
    if not ok or row.disabled_at is not None:
        row.failed_logins += 1
        if row.failed_logins >= MAX_FAILED_LOGINS:
            row.locked_until = now + LOCKOUT
            row.failed_logins = 0
        session.flush()
        raise Unauthenticated("wrong e-mail or password")
    row.failed_logins = 0
    row.locked_until = None
    row.last_login_at = now
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    session.flush()
    return principal_of(row)
