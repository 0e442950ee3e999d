"""E-signed requests (retailer 3.4.2.4): the result of checking a signed file, the port that checks
it, and the rule that an invalid signature cannot verify a request. No I/O: the checker is an
adapter (sargs.integrations.esign) that bootstrap wires."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, Protocol

from sargs.core.errors import InvalidInput

Status = Literal["valid", "invalid", "indeterminate"]
STATUSES: Final[tuple[str, ...]] = ("valid", "invalid", "indeterminate")
# `sargs dsr check-signature` exits with these.
EXIT_CODES: Final[dict[str, int]] = {"valid": 0, "invalid": 1, "indeterminate": 2}


@dataclass(frozen=True)
class SignatureResult:
    """What a signed file proves: valid, invalid (with the reason) or indeterminate (with the reason).

    `signer_name` / `personal_code` come from the signing certificate (subject CN and serialNumber,
    e.g. PNOLV-…); `qualified` is whether it carries the QcCompliance and QSCD statements."""

    status: Status
    reason: str = ""
    format: str = ""  # "asic-e" | "pades" | ""
    signer_name: str | None = None
    personal_code: str | None = None
    qualified: bool = False
    signed_at: str | None = None  # ISO 8601, as the signature claims it
    issuer: str | None = None
    files: list[str] = field(default_factory=list)  # the data files the signature covers
    revocation_checked: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignatureResult:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def invalid(reason: str, **facts: Any) -> SignatureResult:
    return SignatureResult(status="invalid", reason=reason, **facts)


def indeterminate(reason: str, **facts: Any) -> SignatureResult:
    return SignatureResult(status="indeterminate", reason=reason, **facts)


class SignatureChecker(Protocol):
    """Checks one signed file (an ASiC-E container or a signed PDF) against the configured trust store."""

    def check(self, data: bytes, *, file_name: str = "") -> SignatureResult: ...


class UnwiredSignatureChecker:
    """A container built without bootstrap: nothing can be checked."""

    def check(self, data: bytes, *, file_name: str = "") -> SignatureResult:
        return indeterminate("no e-signature checker is configured")


def check_usable(result: SignatureResult) -> None:
    """Raise InvalidInput when the signature cannot verify a request (it is invalid)."""
    if result.status == "invalid":
        raise InvalidInput(f"the e-signature is invalid: {result.reason}", field="signed_file")
    if result.status not in STATUSES:
        raise InvalidInput(f"unknown signature status {result.status!r}", field="signed_file")


def names_match(result: SignatureResult, requester_name: str) -> bool | None:
    """Whether the signer's name is the requester's (case, order and accents aside); None if unknown."""
    if not result.signer_name or not requester_name.strip():
        return None

    def words(text: str) -> list[str]:
        import unicodedata

        plain = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
        return sorted(w for w in plain.replace(",", " ").split() if w)

    return words(result.signer_name) == words(requester_name)
