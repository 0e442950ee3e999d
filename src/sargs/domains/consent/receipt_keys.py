"""Signed consent receipts: each controller signs its receipts with its own key (JWS, ES256).

Kantara Consent Receipt v1.1 delivers a receipt as a signed JWT. A signed receipt here is a JWS
in compact serialisation: the protected header `{"alg": "ES256", "typ": "JWT", "kid": "<kid>"}`
and, as payload, the receipt JSON exactly as `build_receipt` makes it (UTF-8, keys sorted). The
`kid` is `<controller id>.<first 16 characters of the key's RFC 7638 thumbprint>`, so an auditor
sees whose key signed and finds the public key in the JWK set Sargs publishes at
`/.well-known/jwks.json`. ES256 (ECDSA P-256 with SHA-256) is chosen because every JOSE library
verifies it (Ed25519 is not yet everywhere).

Keys come from settings (SARGS_RECEIPT_KEYS: controller id -> private JWK). A controller without
a key has unsigned receipts: the JSON receipt is still served, the signed form is refused with a
clear message, and start-up logs a warning naming the controller. In demo mode every controller
without a configured key gets one derived from the secret key, so the demo signs out of the box.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from sargs.core.errors import ConfigurationError, Conflict
from sargs.domains.consent.receipts import receipt_controller

ALG = "ES256"
CURVE = "P-256"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class ReceiptsUnsigned(Conflict):
    """The controller has no receipt signing key, so its receipts cannot be given signed."""

    code = "receipts_unsigned"


@dataclass(frozen=True)
class ControllerKey:
    controller: str
    kid: str
    key: ECKey

    def public_jwk(self) -> dict[str, str]:
        """The public half as published: kty, crv, x, y, and kid, use, alg."""
        public = {
            k: str(v) for k, v in self.key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")
        }
        return {**public, "kid": self.kid, "use": "sig", "alg": ALG}


def key_id(controller: str, key: ECKey) -> str:
    """`<controller>.<16 characters of the RFC 7638 thumbprint>`."""
    return f"{controller}.{key.thumbprint()[:16]}"


def generate_key() -> ECKey:
    """A new P-256 private key for signing receipts."""
    return ECKey.generate_key(CURVE)


def private_jwk(key: ECKey) -> dict[str, str]:
    """The private key as a JWK (what SARGS_RECEIPT_KEYS holds for a controller)."""
    return {k: str(v) for k, v in key.as_dict(private=True).items() if k in ("kty", "crv", "x", "y", "d")}


def _import(controller: str, data: Mapping[str, Any]) -> ECKey:
    if data.get("kty") != "EC" or data.get("crv") != CURVE or "d" not in data:
        raise ConfigurationError(
            f"SARGS_RECEIPT_KEYS[{controller!r}] must be a private P-256 JWK "
            '({"kty": "EC", "crv": "P-256", "x": ..., "y": ..., "d": ...}); `sargs receipts key` makes one'
        )
    try:
        return ECKey.import_key({k: data[k] for k in ("kty", "crv", "x", "y", "d") if k in data})
    except (JoseError, ValueError, TypeError):
        raise ConfigurationError(f"SARGS_RECEIPT_KEYS[{controller!r}] is not a valid P-256 key") from None


def _derived(secret: str, controller: str) -> ECKey:
    """A demo key: the same for one secret and controller in every process (demo mode only)."""
    seed = hmac.new(secret.encode(), f"sargs receipt key\x1f{controller}".encode(), hashlib.sha256).digest()
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    return ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1()))


class ReceiptKeys:
    """The controllers' signing keys and the published key set (current and retired public keys)."""

    def __init__(self, keys: Iterable[ControllerKey], retired: Sequence[Mapping[str, Any]] = ()) -> None:
        self._keys = {k.controller: k for k in keys}
        self._retired = [dict(r) for r in retired]

    @classmethod
    def from_settings(
        cls,
        configured: Mapping[str, Mapping[str, Any]],
        *,
        controllers: Iterable[str],
        retired: Sequence[Mapping[str, Any]] = (),
        demo_secret: str | None = None,
    ) -> ReceiptKeys:
        """Keys from SARGS_RECEIPT_KEYS; in demo mode (`demo_secret`), derived ones for the rest."""
        keys = []
        for controller, data in configured.items():
            key = _import(controller, data)
            keys.append(ControllerKey(controller, key_id(controller, key), key))
        if demo_secret is not None:
            for controller in controllers:
                if controller not in configured:
                    key = _derived(demo_secret, controller)
                    keys.append(ControllerKey(controller, key_id(controller, key), key))
        for r in retired:
            if r.get("kty") != "EC" or not r.get("kid") or "d" in r:
                raise ConfigurationError(
                    "each of SARGS_RECEIPT_RETIRED_KEYS must be a public EC JWK with its kid"
                )
        return cls(keys, retired)

    def key_for(self, controller: str) -> ControllerKey | None:
        return self._keys.get(controller)

    def unsigned(self, controllers: Iterable[str]) -> list[str]:
        """Which of `controllers` have no key (their receipts are not signed)."""
        return [c for c in controllers if c not in self._keys]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK set to publish: every controller's public key, then the retired ones."""
        current = [self._keys[c].public_jwk() for c in sorted(self._keys)]
        kids = {k["kid"] for k in current}
        return {"keys": current + [r for r in self._retired if r["kid"] not in kids]}

    def sign(self, receipt: Mapping[str, Any]) -> str:
        """The receipt as a compact JWS signed with its controller's key; ReceiptsUnsigned if none."""
        controller = receipt_controller(receipt)
        signer = self._keys.get(controller)
        if signer is None:
            raise ReceiptsUnsigned(
                f"receipts of {controller} are not signed: no signing key is configured "
                "(SARGS_RECEIPT_KEYS; `sargs receipts key` makes one)",
                field="format",
            )
        header = {"alg": ALG, "typ": "JWT", "kid": signer.kid}
        return jws.serialize_compact(header, receipt_payload(receipt), signer.key, algorithms=[ALG])


def receipt_payload(receipt: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: the receipt as UTF-8 JSON, keys sorted, no spaces."""
    return json.dumps(receipt, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
