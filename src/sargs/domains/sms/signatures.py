"""Webhook request signatures: Sargs' own JSON form and Twilio's form callbacks (R-SMS-3)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign_json(secret: str, body: bytes) -> str:
    """The X-Sargs-Signature value of a JSON body: 'sha256=' + hex HMAC-SHA256 keyed by the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 over the URL it called followed by every
    distinct POST parameter name and value, sorted by name, then value (as Twilio's own libraries)."""
    payload = url + "".join(k + v for k, v in sorted(set(params)))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def matches(given: str, expected: str) -> bool:
    """Constant-time comparison of a received signature with the expected one."""
    return hmac.compare_digest(given.encode(), expected.encode())
