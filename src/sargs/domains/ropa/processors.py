"""Processors and their contracts: which are in force today, and the check before any disclosure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.policy.schema import Policy, Processor

# EU member states plus Iceland, Liechtenstein and Norway (ISO 3166-1 alpha-2).
EEA: Final[frozenset[str]] = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)


@dataclass(frozen=True)
class ContractStatus:
    """A processor's contract as it stands on a day: in force or not, and why not."""

    processor_id: str
    name: str
    state: str  # in_force | expired | draft | terminated | not_yet_signed
    in_force: bool
    signed: date | None
    expires: date | None
    reason: str | None  # why it is not in force, for people
    outside_eea: bool


def outside_eea(processor: Processor) -> bool:
    """Whether giving data to this processor transfers it outside the EEA (Art. 44 ff.)."""
    return processor.transfer_outside_eea or processor.country.upper() not in EEA


def contract_status(processor: Processor, *, today: date) -> ContractStatus:
    """The contract's state today; an `in_force` contract whose expiry date has passed is expired."""
    c = processor.contract
    state: str = c.status
    reason: str | None = None
    if c.status == "in_force" and c.expires is not None and c.expires < today:
        state, reason = "expired", f"the contract expired on {c.expires.isoformat()}"
    elif c.status == "in_force" and c.signed is not None and c.signed > today:
        state, reason = "not_yet_signed", f"the contract takes effect on {c.signed.isoformat()}"
    elif c.status == "in_force" and not c.data_protection_clause:
        state, reason = "draft", "the contract has no data-protection clause (Art. 28(3))"
    elif c.status != "in_force":
        reason = f"the contract is {c.status.replace('_', ' ')}"
    return ContractStatus(
        processor_id=processor.id,
        name=processor.name,
        state=state,
        in_force=reason is None,
        signed=c.signed,
        expires=c.expires,
        reason=reason,
        outside_eea=outside_eea(processor),
    )


def processors_of(policy: Policy, controller: str) -> list[Processor]:
    """The processors working for a controller (all of the policy's when none are named)."""
    return [p for p in policy.processors if p.controllers is None or controller in p.controllers]


def check_disclosure(
    *,
    policy: Policy,
    processor_id: str,
    data_categories: Sequence[str],
    purpose: str,
    today: date,
    controller: str | None = None,
) -> Processor:
    """The processor, if data of these categories may go to it for this purpose today; else raise why.

    Refused (Conflict) when its contract is not in force (draft, expired, terminated, no data-protection
    clause), when it does not work for the controller or the purpose, or when it is not entitled to a
    data category (R 2.2: only the data the service needs). An unknown processor is InvalidInput.
    """
    processor = next((p for p in policy.processors if p.id == processor_id), None)
    if processor is None:
        known = ", ".join(p.id for p in policy.processors) or "none declared"
        raise InvalidInput(f"unknown processor {processor_id!r} (known: {known})", field="processor")
    status = contract_status(processor, today=today)
    if not status.in_force:
        raise Conflict(
            f"data may not be disclosed to processor {processor.name!r}: {status.reason} "
            "(a contract in force is required, GDPR Art. 28(3))",
            field="processor",
        )
    if (
        controller is not None
        and processor.controllers is not None
        and controller not in processor.controllers
    ):
        raise Conflict(
            f"processor {processor.name!r} does not process data for {controller!r}", field="processor"
        )
    if processor.purposes and purpose not in processor.purposes:
        raise Conflict(
            f"processor {processor.name!r} is not engaged for purpose {purpose!r} "
            f"(its purposes: {', '.join(processor.purposes)})",
            field="processor",
        )
    extra = [c for c in data_categories if processor.data_categories and c not in processor.data_categories]
    if extra:
        raise Conflict(
            f"processor {processor.name!r} may not receive data categories {', '.join(extra)} "
            f"(its categories: {', '.join(processor.data_categories)})",
            field="processor",
        )
    return processor
