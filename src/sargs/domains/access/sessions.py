"""Opening, resolving and ending web sessions (console and portal).

The cookie holds a random token; the database holds its SHA-256, so a leaked table opens
nothing. Sessions expire after a fixed lifetime and after a shorter idle time; signing out
or disabling a staff member ends them at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sargs.core.ids import new_id
from sargs.domains.access.model import WebSession

# "staff-pending": past the password, before the second factor (or its enrolment); opens nothing else.
SessionKind = Literal["staff", "staff-pending", "subject"]
LIFETIME: dict[str, timedelta] = {
    "staff": timedelta(hours=10),
    "staff-pending": timedelta(minutes=10),
    "subject": timedelta(hours=1),
}
IDLE: dict[str, timedelta] = {
    "staff": timedelta(minutes=30),
    "staff-pending": timedelta(minutes=10),
    "subject": timedelta(minutes=15),
}


@dataclass(frozen=True)
class OpenedSession:
    id: str
    token: str  # goes into the cookie; never stored
    kind: str
    owner_id: str


@dataclass(frozen=True)
class ActiveSession:
    id: str
    kind: str
    owner_id: str
    authenticated_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(*, session: Session, kind: SessionKind, owner_id: str, now: datetime) -> OpenedSession:
    """Start a session for a staff member or a data subject."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=new_id(),
        token_sha256=_digest(token),
        kind=kind,
        owner_id=owner_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME[kind],
        authenticated_at=now,
    )
    session.add(row)
    session.flush()
    return OpenedSession(row.id, token, kind, owner_id)


def resolve_session(
    *, session: Session, token: str, kind: SessionKind, now: datetime
) -> ActiveSession | None:
    """The live session behind a cookie token, or None; touching it extends the idle timer."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _digest(token)))
    if row is None or row.kind != kind or row.ended_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + IDLE[kind] <= now:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        session.flush()
    return ActiveSession(row.id, row.kind, row.owner_id, row.authenticated_at or row.created_at)


def mark_authenticated(*, session: Session, session_id: str, now: datetime) -> None:
    """The owner proved who they are again (re-authentication before a sensitive action)."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(authenticated_at=now))


def end_session(*, session: Session, token: str, now: datetime) -> None:
    """Sign out: the token stops working at once."""
    session.execute(
        update(WebSession)
        .where(WebSession.token_sha256 == _digest(token), WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions_of(*, session: Session, kind: SessionKind, owner_id: str, now: datetime) -> None:
    """End every session of one owner (e.g. a disabled staff member)."""
    session.execute(
        update(WebSession)
        .where(WebSession.kind == kind, WebSession.owner_id == owner_id, WebSession.ended_at.is_(None))
        .values(ended_at=now)
    )
