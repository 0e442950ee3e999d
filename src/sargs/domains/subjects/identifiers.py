"""Identities as typed, normalised values: msisdn (E.164), e-mail, customer number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from sargs.core.errors import InvalidInput

IdentityKind = Literal["msisdn", "email", "customer"]
KINDS: tuple[str, ...] = ("msisdn", "email", "customer")

# No spaces, controls, quotes, angle brackets or other characters that need quoting in a header,
# so an accepted address is safe to put into To: and into a page as-is (still escaped there).
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f<>\"(),;:\\\[\]]"
_EMAIL = re.compile(rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}{{2,}}$")
_EMAIL_IN_TEXT = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]{2,}")
_DIGIT_RUN = re.compile(r"\+?\d[\d ().-]{5,}\d")
_CUSTOMER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


@dataclass(frozen=True)
class Identity:
    kind: IdentityKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def masked(self) -> str:
        """A form safe for logs: keeps just enough to tell identities apart by eye."""
        return f"{self.kind}:{mask(self.kind, self.value)}"


def mask(kind: str, value: str) -> str:
    if kind == "msisdn":
        return value[:4] + "*" * max(len(value) - 6, 0) + value[-2:]
    if kind == "email":
        local, _, domain = value.partition("@")
        return (local[:1] + "***@" + domain) if domain else "***"
    return value[:2] + "***"


def normalise_msisdn(raw: str, *, region: str = "LV") -> str:
    """A phone number in E.164 form; national numbers are read in `region`."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("not a phone number", field="msisdn") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("not a valid phone number", field="msisdn")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    value = raw.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidInput("not a valid e-mail address", field="email")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}".lower()


def make_identity(kind: str, raw: str, *, region: str = "LV") -> Identity:
    """Validate and normalise one identity value of a known kind."""
    if kind == "msisdn":
        return Identity("msisdn", normalise_msisdn(raw, region=region))
    if kind == "email":
        return Identity("email", normalise_email(raw))
    if kind == "customer":
        value = raw.strip()
        if not _CUSTOMER.match(value):
            raise InvalidInput(
                "customer number may hold letters, digits and . _ / - (max 64)", field="customer"
            )
        return Identity("customer", value)
    raise InvalidInput(f"unknown identity type {kind!r}; use one of {', '.join(KINDS)}", field="identity")


def parse_identity(text: str, *, region: str = "LV") -> Identity:
    """Parse 'msisdn:+371…', 'email:…' or 'customer:…' into a normalised Identity."""
    kind, sep, raw = text.partition(":")
    if not sep or not raw.strip():
        raise InvalidInput(
            "identity must look like msisdn:+37129123456, email:name@example.lv or customer:C-1001",
            field="identity",
        )
    return make_identity(kind.strip().lower(), raw, region=region)


def scrub_identifiers(text: str) -> str:
    """`text` with e-mail addresses and phone-like digit runs (7+ digits) replaced by '…'.

    For free text kept in the consent ledger's chained evidence (e.g. an SMS keyword message),
    which erasure cannot rewrite.
    """
    text = _EMAIL_IN_TEXT.sub("…", text)
    return _DIGIT_RUN.sub(lambda m: "…" if sum(ch.isdigit() for ch in m.group()) >= 7 else m.group(), text)
