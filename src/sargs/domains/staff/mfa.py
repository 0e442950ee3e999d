"""The staff second factor: TOTP (RFC 6238, pyotp) and one-time recovery codes.

- The TOTP secret is kept AES-GCM encrypted with a key from settings (SARGS_STAFF_MFA_KEY, else
  derived from SARGS_SECRET_KEY) and the account id as associated data: a copy of the database
  alone yields no secrets, and a sealed secret moved to another account does not open.
- A code is accepted once: the account keeps the last time step used, and a code is taken only
  for a later step, by one conditional UPDATE (two requests racing with one code: one wins).
- Recovery codes are argon2-hashed like passwords; each is spent by a conditional UPDATE.
- Enrolment has two steps: `start_enrolment` makes a secret (not yet required at sign-in), and
  `confirm_enrolment` makes it live once a first code from the authenticator matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.core.ids import new_id
from sargs.domains.staff.model import StaffMember, StaffRecoveryCode
from sargs.domains.staff.passwords import hash_password, verify_password

ISSUER = "Sargs"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code from the step before or after is accepted too (clock drift)
RECOVERY_CODES = 10
ALWAYS_REQUIRED = frozenset({"admin", "dpo"})


def mfa_key(material: str) -> bytes:
    """The 256-bit key that seals TOTP secrets, from the configured key material."""
    return hashlib.sha256(b"sargs staff totp v1\x00" + material.encode()).digest()


def seal(key: bytes, staff_id: str, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), staff_id.encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, staff_id: str, value: str) -> str | None:
    """The secret, or None if it was sealed with another key or for another account."""
    if not value.startswith("v1:"):
        return None
    raw = base64.urlsafe_b64decode(value[3:])
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], staff_id.encode()).decode()
    except InvalidTag:
        return None


def mfa_required(role: str, roles: frozenset[str] | set[str] | list[str] = ALWAYS_REQUIRED) -> bool:
    """Whether `role` must sign in with a second factor: admin and DPO always, others if listed."""
    return role in ALWAYS_REQUIRED or role in roles


def is_enrolled(row: StaffMember) -> bool:
    return row.totp_enrolled_at is not None and row.totp_secret is not None


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, shown once
    uri: str  # otpauth:// provisioning URI, for the QR code


@dataclass(frozen=True)
class Confirmed:
    recovery_codes: tuple[str, ...]  # shown once; only their hashes are kept


def start_enrolment(*, session: Session, row: StaffMember, key: bytes) -> Enrolment:
    """A fresh secret for `row` (replacing any enrolment not yet confirmed). A confirmed one is
    replaced only through `reset`."""
    if is_enrolled(row):
        raise InvalidInput("this account already has an authenticator; reset it first")
    secret = pyotp.random_base32()
    row.totp_secret = seal(key, row.id, secret)
    row.totp_last_step = None
    session.flush()
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=row.email, issuer_name=ISSUER))


def pending_enrolment(row: StaffMember, key: bytes) -> Enrolment | None:
    """The secret being enrolled (to show its QR code again), if enrolment is under way."""
    if is_enrolled(row) or row.totp_secret is None:
        return None
    secret = unseal(key, row.id, row.totp_secret)
    if secret is None:
        return None
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=row.email, issuer_name=ISSUER))


def _new_recovery_codes(session: Session, row: StaffMember, now: datetime) -> tuple[str, ...]:
    session.execute(
        update(StaffRecoveryCode)
        .where(StaffRecoveryCode.staff_id == row.id, StaffRecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    codes = tuple(
        "-".join(base64.b32encode(secrets.token_bytes(5)).decode().lower()[i : i + 4] for i in (0, 4))
        for _ in range(RECOVERY_CODES)
    )
    for code in codes:
        session.add(
            StaffRecoveryCode(id=new_id(), staff_id=row.id, code_hash=hash_password(code), created_at=now)
        )
    return codes


def confirm_enrolment(
    *, session: Session, row: StaffMember, key: bytes, code: str, now: datetime
) -> Confirmed | None:
    """Make the pending secret live if `code` matches it; None if it does not."""
    if is_enrolled(row) or row.totp_secret is None or not _take_code(session, row, key, code, now):
        return None
    row.totp_enrolled_at = now
    codes = _new_recovery_codes(session, row, now)
    session.flush()
    return Confirmed(codes)


def enrol_at_once(
    *, session: Session, row: StaffMember, key: bytes, now: datetime
) -> tuple[Enrolment, Confirmed]:
    """Enrol without a first code (`sargs staff mfa enrol` on the server: the secret is handed over)."""
    enrolment = start_enrolment(session=session, row=row, key=key)
    row.totp_enrolled_at = now
    codes = _new_recovery_codes(session, row, now)
    session.flush()
    return enrolment, Confirmed(codes)


def reset(*, session: Session, row: StaffMember, now: datetime) -> None:
    """Forget the authenticator and spend every recovery code (a lost phone, a left employee)."""
    row.totp_secret = None
    row.totp_enrolled_at = None
    row.totp_last_step = None
    session.execute(
        update(StaffRecoveryCode)
        .where(StaffRecoveryCode.staff_id == row.id, StaffRecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    session.flush()


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _take_code(session: Session, row: StaffMember, key: bytes, code: str, now: datetime) -> bool:
    """Match `code` against the steps around `now`; take the step once (replay protection)."""
    code = "".join(code.split())
    if row.totp_secret is None or len(code) != 6 or not code.isdigit():
        return False
    secret = unseal(key, row.id, row.totp_secret)
    if secret is None:
        return False
    totp = pyotp.TOTP(secret)
    current = _step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            taken = session.execute(
                update(StaffMember)
                .where(
                    StaffMember.id == row.id,
                    or_(StaffMember.totp_last_step.is_(None), StaffMember.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return False
            session.refresh(row, ["totp_last_step"])
            return True
    return False


def _take_recovery_code(session: Session, row: StaffMember, code: str, now: datetime) -> bool:
    code = "".join(c for c in code.lower() if c.isalnum())
    if len(code) != 8:
        return False
    code = f"{code[:4]}-{code[4:]}"  # as handed out, typed with or without the dash
    unused = session.scalars(
        select(StaffRecoveryCode).where(
            StaffRecoveryCode.staff_id == row.id, StaffRecoveryCode.used_at.is_(None)
        )
    ).all()
    for candidate in unused:
        if verify_password(candidate.code_hash, code):
            spent = session.execute(
                update(StaffRecoveryCode)
                .where(StaffRecoveryCode.id == candidate.id, StaffRecoveryCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1  # type: ignore[attr-defined]
    return False


def check_second_factor(*, session: Session, row: StaffMember, key: bytes, code: str, now: datetime) -> bool:
    """A TOTP code (once per time step) or an unused recovery code (once) of an enrolled account."""
    if not is_enrolled(row):
        return False
    digits = "".join(code.split())
    if len(digits) == 6 and digits.isdigit():
        return _take_code(session, row, key, digits, now)
    return _take_recovery_code(session, row, code, now)


def recovery_codes_left(*, session: Session, staff_id: str) -> int:
    return len(
        session.scalars(
            select(StaffRecoveryCode.id).where(
                StaffRecoveryCode.staff_id == staff_id, StaffRecoveryCode.used_at.is_(None)
            )
        ).all()
    )
