"""Time-limited signed links to a request's answer (issue 16 part 6). A token is
`request_id.expires(unix seconds).base64url(HMAC-SHA256)[:22]`, keyed by a key derived from
SARGS_SECRET_KEY and bound to the person, so a copied link neither outlives its time nor opens
another person's answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

ANSWER_LINK_TTL = timedelta(hours=24)


def link_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"sargs dsr answer links v1", hashlib.sha256).digest()


def _mac(key: bytes, request_id: str, subject_id: str, expires: int) -> str:
    msg = f"{request_id}|{subject_id}|{expires}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()[:22]


def sign_answer(key: bytes, *, request_id: str, subject_id: str, now: datetime) -> str:
    expires = int((now + ANSWER_LINK_TTL).timestamp())
    return f"{request_id}.{expires}.{_mac(key, request_id, subject_id, expires)}"


def check_answer(key: bytes, token: str, *, subject_id: str, now: datetime) -> tuple[str | None, bool]:
    """(request id, expired). (None, False): forged or malformed; (id, True): genuine but expired."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200 or not parts[1].isdigit():
        return None, False
    request_id, expires_text, mac = parts
    if not hmac.compare_digest(mac, _mac(key, request_id, subject_id, int(expires_text))):
        return None, False
    return request_id, datetime.fromtimestamp(int(expires_text), UTC) <= now
