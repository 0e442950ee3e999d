"""Signed links in e-mails: tracking pixel, click redirect, unsubscribe (R-WEB-2), and a
recipient's confirmation that it acted on an erasure or rectification it was told of (GDPR Art. 19).

A token is `base64url(JSON payload).base64url(HMAC-SHA256(payload)[:16])`, keyed by a key derived
from SARGS_SECRET_KEY. Nothing in it can be changed without the key, so a click link only ever
redirects to the URL that was signed with it: the redirector cannot be turned into an open one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

Kind = Literal["o", "c", "u", "r"]  # open pixel, click, unsubscribe, recipient's confirmation
MAX_TOKEN = 4096


def link_key(secret: str) -> bytes:
    """The signing key for mail links, derived from the application secret."""
    return hmac.new(secret.encode(), b"sargs mail links v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkPayload:
    kind: Kind
    subject_id: str
    message_id: str
    controller: str
    purpose: str | None = None
    url: str | None = None
    expires: int | None = None  # Unix time after which the link no longer works (None: never)

    def expired(self, now: float) -> bool:
        """Whether the link has run out at `now` (Unix time)."""
        return self.expires is not None and now > self.expires


def sign(key: bytes, payload: LinkPayload) -> str:
    """A token carrying `payload`, signed with `key`."""
    doc: dict[str, str | int] = {
        "k": payload.kind,
        "s": payload.subject_id,
        "m": payload.message_id,
        "c": payload.controller,
    }
    if payload.purpose is not None:
        doc["p"] = payload.purpose
    if payload.url is not None:
        doc["u"] = payload.url
    if payload.expires is not None:
        doc["e"] = payload.expires
    body = _b64(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()[:16]
    return f"{body}.{_b64(mac)}"


def verify(key: bytes, token: str, *, kind: Kind) -> LinkPayload | None:
    """The payload of a genuine token of this kind; None for anything forged, altered or malformed."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        return None
    body, _, mac_text = token.partition(".")
    try:
        given = _unb64(mac_text)
        expected = hmac.new(key, body.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(given, expected):
            return None
        doc = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("k") != kind:
        return None
    try:
        return LinkPayload(
            kind=kind,
            subject_id=str(doc["s"]),
            message_id=str(doc["m"]),
            controller=str(doc["c"]),
            purpose=doc.get("p"),
            url=doc.get("u"),
            expires=int(doc["e"]) if "e" in doc else None,
        )
    except (KeyError, TypeError, ValueError):
        return None
