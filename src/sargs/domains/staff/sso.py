"""Staff accounts from an identity provider's checked ID-token claims (OpenID Connect).

- The role comes from one claim (SARGS_OIDC_ROLE_CLAIM, a string or list) through a map of claim
  value -> role (SARGS_OIDC_ROLE_MAP); a value may also name companies: "operator:lmt+tele2".
  Several matching values: the mapping listed first wins. Admin is never mapped: a map naming
  admin is refused at startup (`parse_role_map`), so an identity-provider group can never make
  an administrator; admins are made with `sargs staff add` and sign in with a password + TOTP
  (an existing admin account is not signed in through the provider either, even when matched).
- The account is matched by the provider's (issuer, sub) once linked, else by the verified
  e-mail (`email_verified` must not be false), and linked then. An existing account keeps its
  role and companies (Sargs is their record; the claim only opens the door). An account a
  person never had is created with the mapped role and companies when SARGS_OIDC_CREATE_ACCOUNTS
  is on (the default), with no password ("!"): it signs in only through the provider.
- A disabled account stays disabled; a claim that maps to no role opens nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.errors import ConfigurationError, InvalidInput, Unauthenticated
from sargs.core.ids import new_id
from sargs.domains.access.permissions import ROLES
from sargs.domains.access.principal import Principal
from sargs.domains.staff.model import StaffMember
from sargs.domains.staff.service import _by_email, principal_of
from sargs.domains.subjects.identifiers import normalise_email

NO_PASSWORD = "!"  # never a valid argon2 hash: verify_password answers False


@dataclass(frozen=True)
class MappedRole:
    role: str
    controllers: tuple[str, ...] | None  # None: every company


def parse_role_map(raw: Mapping[str, str]) -> dict[str, MappedRole]:
    """Check the claim-value -> role map; admin, or a role that does not exist, is refused."""
    parsed: dict[str, MappedRole] = {}
    for claim_value, target in raw.items():
        role, _, companies = target.partition(":")
        role = role.strip()
        if role == "admin":
            raise ConfigurationError(
                f"SARGS_OIDC_ROLE_MAP maps {claim_value!r} to admin; admin is never given by an identity "
                "provider (create admins with `sargs staff add`)"
            )
        if role not in ROLES:
            raise ConfigurationError(f"SARGS_OIDC_ROLE_MAP maps {claim_value!r} to unknown role {role!r}")
        controllers = tuple(sorted({c.strip() for c in companies.split("+") if c.strip()})) or None
        parsed[claim_value] = MappedRole(role, controllers)
    return parsed


def mapped_role(
    claims: Mapping[str, Any], role_claim: str, role_map: Mapping[str, MappedRole]
) -> MappedRole | None:
    value = claims.get(role_claim)
    values = [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
    for claim_value, mapped in role_map.items():
        if claim_value in values:
            return mapped
    return None


def sign_in_by_claims(
    *,
    session: Session,
    claims: Mapping[str, Any],
    issuer: str,
    role_claim: str,
    role_map: Mapping[str, str],
    create: bool,
    now: datetime,
) -> Principal:
    """The principal of the account these (already verified) claims belong to."""
    mapping = parse_role_map(role_map)
    subject = f"{issuer} {claims['sub']}"
    row = session.scalar(select(StaffMember).where(StaffMember.oidc_subject == subject))
    if row is None:
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is False:
            raise Unauthenticated("the identity provider sent no verified e-mail address")
        try:
            address = normalise_email(email)
        except InvalidInput:
            raise Unauthenticated("the identity provider sent an invalid e-mail address") from None
        row = _by_email(session, address)
        mapped = mapped_role(claims, role_claim, mapping)
        if mapped is None:
            raise Unauthenticated("your identity provider account has no Sargs role")
        if row is None:
            if not create:
                raise Unauthenticated("no staff account with this e-mail; ask the DPO to add you")
            name = claims.get("name") if isinstance(claims.get("name"), str) else address
            row = StaffMember(
                id=new_id(),
                email=address,
                name=str(name)[:200],
                role=mapped.role,
                controllers=list(mapped.controllers) if mapped.controllers else None,
                password_hash=NO_PASSWORD,
                created_at=now,
                created_by="oidc",
                failed_logins=0,
            )
            session.add(row)
        elif row.oidc_subject is not None:
            raise Unauthenticated("this staff account is linked to another identity-provider account")
        row.oidc_subject = subject
    elif mapped_role(claims, role_claim, mapping) is None:
        raise Unauthenticated("your identity provider account has no Sargs role")  # removed from the group
    if row.role == "admin":
        raise Unauthenticated("administrators sign in with their password and second factor, not through SSO")
    if row.disabled_at is not None:
        raise Unauthenticated("this staff account is disabled")
    if row.locked_until is not None and row.locked_until > now:
        raise Unauthenticated("too many failed sign-ins; try again later")
    row.last_login_at = now
    session.flush()
    return principal_of(row)
