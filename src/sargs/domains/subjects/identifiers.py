"""Identities as typed, normalised values: msisdn (E.164), e-mail, customer number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from sargs.core.errors import InvalidInput

IdentityKind = Literal["msisdn", "email", "customer"]
KINDS: tuple[str, ...] = ("msisdn", "email", "customer")

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
    """An e-mail address by RFC 5321 / 6531 (email-validator): internationalised local parts and
    domains (jānis@piemērs.lv) are accepted, a domain given in punycode is read back to Unicode, and
    the whole address is lower-cased so one person's address always matches. Quoted local parts,
    display names, IP-literal domains and spaces are refused, so an accepted address is safe to put
    into To: and into a page as-is (still escaped there). Lengths are checked strictly (64 before the
    @, 254 in all); DNS is never asked."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidInput(f"not a valid e-mail address: {exc}", field="email") from None
    return checked.normalized.lower()


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
