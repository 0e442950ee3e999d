"""One-time codes: 6 digits, 10 minutes, single use, 5 tries, a few per identity per hour.

Codes are stored as HMAC-SHA256(key, challenge id + code) and compared in constant time. An
unknown identity gets a challenge too (nothing is sent), so the sign-in page answers the
same whether or not a person exists; the hourly limit counts both alike, in the database,
so it holds across processes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sargs.core.errors import RateLimited
from sargs.core.i18n import Catalogue, Texts
from sargs.core.ids import new_id
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.portal.ports import CodeSender
from sargs.domains.subjects.identifiers import Identity

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5
CodePurpose = Literal["signin", "contact"]

MESSAGES = Texts("portal.codes.MESSAGES")


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    subject_id: str | None = None
    pending_value: str | None = None
    pending_replace: bool = False


def identity_digest(key: bytes, identity: Identity) -> str:
    return hmac.new(key, f"identity:{identity}".encode(), hashlib.sha256).hexdigest()


def _code_hmac(key: bytes, challenge: str, code: str) -> str:
    return hmac.new(key, f"code:{challenge}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(
    *,
    session: Session,
    key: bytes,
    identity: Identity,
    purpose: CodePurpose,
    subject_id: str | None,
    sender: CodeSender,
    now: datetime,
    language: str = "lv",
    pending_value: str | None = None,
    pending_replace: bool = False,
) -> str:
    """Store a new code and send it to `identity` (only when `subject_id` is known); returns the
    challenge id the code must be presented with."""
    digest = identity_digest(key, identity)
    recent = session.scalar(
        select(func.count())
        .select_from(OneTimeCode)
        .where(OneTimeCode.identity_digest == digest, OneTimeCode.created_at > now - timedelta(hours=1))
    )
    if (recent or 0) >= MAX_CODES_PER_HOUR:
        raise RateLimited("too many codes requested; wait an hour and try again")
    challenge = new_id()
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        OneTimeCode(
            id=challenge,
            purpose=purpose,
            identity_digest=digest,
            subject_id=subject_id,
            pending_value=pending_value,
            pending_replace=pending_replace,
            code_hmac=_code_hmac(key, challenge, code),
            created_at=now,
            expires_at=now + CODE_TTL,
            attempts=0,
        )
    )
    session.flush()
    if subject_id is not None:
        texts = Catalogue(language, MESSAGES.context)
        text, subject = texts["text"], texts["subject"]
        if identity.kind == "msisdn":
            sender.send_sms(identity.value, text.format(code=code), session=session)
        else:
            sender.send_email(identity.value, subject, text.format(code=code))
        log.info("one-time code sent", extra={"to": identity.masked(), "purpose": purpose})
    return challenge


def check_code(
    *, session: Session, key: bytes, challenge: str, code: str, purpose: CodePurpose, now: datetime
) -> CodeCheck:
    """Try a code. Every try counts (the caller commits even when it fails); a code works once."""
    row = session.scalar(select(OneTimeCode).where(OneTimeCode.id == challenge[:32]).with_for_update())
    if row is None or row.purpose != purpose:
        return CodeCheck(False)
    row.attempts += 1
    session.flush()
    given = "".join(ch for ch in code if ch.isdigit())[:6]
    matches = hmac.compare_digest(row.code_hmac, _code_hmac(key, row.id, given))
    usable = row.used_at is None and row.expires_at > now and row.attempts <= MAX_ATTEMPTS
    if not (matches and usable and row.subject_id is not None):
        return CodeCheck(False)
    claimed = session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return CodeCheck(False)
    return CodeCheck(True, row.subject_id, row.pending_value, row.pending_replace)
