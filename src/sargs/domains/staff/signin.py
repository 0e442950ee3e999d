"""Signing staff in past the password: the second factor, enrolling it, and re-authentication.

The console opens a full session only after `second_factor_for` says "none" or
`verify_second_factor` succeeds; in between the browser holds a short "pending" session that
opens nothing but these steps. Failed codes count towards the same lockout as failed passwords.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, NotFound, Unauthenticated
from sargs.domains.access.principal import Principal
from sargs.domains.access.sessions import end_sessions_of
from sargs.domains.staff import mfa
from sargs.domains.staff.model import StaffMember
from sargs.domains.staff.passwords import verify_password
from sargs.domains.staff.service import LOCKOUT, MAX_FAILED_LOGINS, _by_email, principal_of

SecondFactor = Literal["none", "totp", "enrol"]


def _live(session: Session, staff_id: str, now: datetime) -> StaffMember:
    row = session.get(StaffMember, staff_id)
    if row is None or row.disabled_at is not None:
        raise Unauthenticated("sign in again")
    if row.locked_until is not None and row.locked_until > now:
        raise Unauthenticated("too many failed sign-ins; try again later")
    return row


def _failed(session: Session, row: StaffMember, now: datetime) -> None:
    row.failed_logins += 1
    if row.failed_logins >= MAX_FAILED_LOGINS:
        row.locked_until = now + LOCKOUT
        row.failed_logins = 0
    session.flush()


def second_factor_for(*, session: Session, staff_id: str, required_roles: Iterable[str]) -> SecondFactor:
    """What comes after the password: nothing, a code, or enrolment (MFA required, not set up)."""
    row = session.get(StaffMember, staff_id)
    if row is None:
        raise NotFound("no such staff account")
    if mfa.is_enrolled(row):
        return "totp"  # enrolled voluntarily or by requirement: always asked
    return "enrol" if mfa.mfa_required(row.role, set(required_roles)) else "none"


def verify_second_factor(
    *, session: Session, staff_id: str, code: str, key: bytes, now: datetime
) -> Principal:
    """Check a TOTP or recovery code. The caller commits even on failure, to keep the count."""
    row = _live(session, staff_id, now)
    if not mfa.check_second_factor(session=session, row=row, key=key, code=code, now=now):
        _failed(session, row, now)
        raise Unauthenticated("wrong or already used code")
    row.failed_logins = 0
    row.last_login_at = now
    session.flush()
    return principal_of(row)


def begin_enrolment(*, session: Session, staff_id: str, key: bytes) -> mfa.Enrolment:
    """The secret to enrol (the one already pending, so a reload shows the same QR code)."""
    row = session.get(StaffMember, staff_id)
    if row is None:
        raise NotFound("no such staff account")
    return mfa.pending_enrolment(row, key) or mfa.start_enrolment(session=session, row=row, key=key)


def finish_enrolment(
    *, session: Session, staff_id: str, key: bytes, code: str, now: datetime
) -> tuple[Principal, mfa.Confirmed]:
    """Confirm enrolment with a first code; the account is then signed in."""
    row = _live(session, staff_id, now)
    confirmed = mfa.confirm_enrolment(session=session, row=row, key=key, code=code, now=now)
    if confirmed is None:
        _failed(session, row, now)
        raise Unauthenticated("the code does not match; check the authenticator's clock and try again")
    row.failed_logins = 0
    row.last_login_at = now
    session.flush()
    return principal_of(row), confirmed


def reauthenticate(
    *, session: Session, staff_id: str, password: str, code: str, key: bytes, now: datetime
) -> None:
    """Prove again who is at the keyboard: the password (accounts that have one) and the second
    factor (accounts enrolled). An SSO-only account without an authenticator cannot; it signs in
    again instead."""
    row = _live(session, staff_id, now)
    has_password = row.password_hash != "!"
    if not has_password and not mfa.is_enrolled(row):
        raise Unauthenticated("sign in again to confirm this action")
    ok = verify_password(row.password_hash, password) if has_password else True
    if ok and mfa.is_enrolled(row):
        ok = mfa.check_second_factor(session=session, row=row, key=key, code=code, now=now)
    if not ok:
        _failed(session, row, now)
        raise Unauthenticated("wrong password or code")
    row.failed_logins = 0
    session.flush()


def needs_code(*, session: Session, staff_id: str) -> tuple[bool, bool]:
    """(asks for a password, asks for a code) on the re-authentication form."""
    row = session.get(StaffMember, staff_id)
    if row is None:
        return True, False
    return row.password_hash != "!", mfa.is_enrolled(row)


# --- the server's command line ---------------------------------------------------------------


def enrol_by_email(
    *, session: Session, email: str, key: bytes, now: datetime
) -> tuple[mfa.Enrolment, mfa.Confirmed]:
    """`sargs staff mfa enrol`: a live secret and recovery codes, to hand to the person."""
    row = _by_email(session, email)
    if row is None:
        raise NotFound("no staff account with this e-mail")
    if mfa.is_enrolled(row):
        raise InvalidInput("this account already has an authenticator; `sargs staff mfa reset` it first")
    return mfa.enrol_at_once(session=session, row=row, key=key, now=now)


def reset_by_email(*, session: Session, email: str, now: datetime) -> None:
    """`sargs staff mfa reset`: forget the authenticator; a role that requires one enrols again at
    the next sign-in (after the password)."""
    row = _by_email(session, email)
    if row is None:
        raise NotFound("no staff account with this e-mail")
    mfa.reset(session=session, row=row, now=now)
    end_sessions_of(session=session, kind="staff", owner_id=row.id, now=now)
