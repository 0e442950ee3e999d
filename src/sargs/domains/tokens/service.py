"""Creating, checking and revoking API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, NotFound, Unauthenticated
from sargs.core.ids import new_id
from sargs.domains.access.permissions import ROLES, Role
from sargs.domains.access.principal import Principal
from sargs.domains.tokens.model import ApiToken

__all__ = ["ROLES", "IssuedToken", "Principal", "Role", "authenticate_token", "create_token"]

PREFIX = "sargs_"


@dataclass(frozen=True)
class IssuedToken:
    id: str
    secret: str  # shown once, never stored
    role: str
    expires_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    *,
    session: Session,
    name: str,
    role: str,
    now: datetime,
    controllers: list[str] | None = None,
    valid_days: int | None = None,
) -> IssuedToken:
    """Issue a token; the returned secret is the only copy."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if valid_days is not None and valid_days <= 0:
        raise InvalidInput("valid_days must be positive", field="valid_days")
    token_id = new_id()
    raw = secrets.token_urlsafe(32)
    expires = now + timedelta(days=valid_days) if valid_days else None
    session.add(
        ApiToken(
            id=token_id,
            name=name,
            role=role,
            secret_sha256=_digest(raw),
            controllers=controllers,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return IssuedToken(id=token_id, secret=f"{PREFIX}{token_id}_{raw}", role=role, expires_at=expires)


def authenticate_token(*, session: Session, secret: str, now: datetime) -> Principal:
    """The principal behind a bearer token; any problem is Unauthenticated, without saying which."""
    if not secret.startswith(PREFIX):
        raise Unauthenticated("invalid token")
    token_id, sep, raw = secret[len(PREFIX) :].partition("_")
    if not sep:
        raise Unauthenticated("invalid token")
    row = session.get(ApiToken, token_id)
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(raw)):
        raise Unauthenticated("invalid token")
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthenticated("token expired or revoked")
    return Principal("token", row.id, row.role, tuple(row.controllers) if row.controllers else None)


def revoke_token(*, session: Session, token_id: str, now: datetime) -> None:
    """Revoke a token at once."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("no such token")
    row.revoked_at = now
    session.flush()


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))
