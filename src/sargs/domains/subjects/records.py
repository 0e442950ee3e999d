"""Records that put a person in client groups: what an import row, an API item or a synced source
row may hold, read into typed, normalised memberships (sargs.domains.subjects.groups applies them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sargs.core.errors import InvalidInput
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.identifiers import Identity, make_identity

# Column names a record may use for each identity kind.
IDENTITY_FIELDS: dict[str, str] = {
    "msisdn": "msisdn",
    "phone": "msisdn",
    "email": "email",
    "customer": "customer",
    "customer_number": "customer",
}


@dataclass(frozen=True)
class Membership:
    """One record: the person with these identities is in `group` at `controller`."""

    line: int  # the record's line in its file, or its index in an API batch
    identities: tuple[Identity, ...]
    controller: str
    group: str


def parse_record(
    record: Mapping[str, Any],
    *,
    line: int,
    registry: PolicyRegistry,
    region: str,
    controller: str | None = None,
) -> list[Membership]:
    """The memberships one record asks for; InvalidInput says what is wrong with it.

    A record holds identities (`msisdn`/`phone`, `email`, `customer`/`customer_number`; empty ones
    are skipped) and either `controller` + `client_group` (or `group`), or `groups`:
    {controller: group}. `controller` is used when the record names none.
    """
    identities: list[Identity] = []
    for name, kind in IDENTITY_FIELDS.items():
        raw = record.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if not isinstance(raw, str | int):
            raise InvalidInput(f"{name} must be text", field=name)
        ident = make_identity(kind, str(raw), region=region)
        if ident not in identities:
            identities.append(ident)
    if not identities:
        raise InvalidInput(
            f"no identity: give at least one of {', '.join(sorted(set(IDENTITY_FIELDS)))}", field="identity"
        )
    groups = record.get("groups")
    if groups is not None:
        if not isinstance(groups, Mapping) or not groups:
            raise InvalidInput("groups must be an object of controller: client group", field="groups")
        pairs = list(groups.items())
    else:
        ctl = record.get("controller") or controller
        grp = record.get("client_group") or record.get("group")
        if not ctl:
            raise InvalidInput("no controller (a column, or --controller)", field="controller")
        if not grp:
            raise InvalidInput("no client_group", field="client_group")
        pairs = [(ctl, grp)]
    out = []
    for ctl, grp in pairs:
        if not isinstance(ctl, str) or not isinstance(grp, str):
            raise InvalidInput("controller and client group must be text", field="client_group")
        policy = registry.policy_for(ctl.strip())
        known = [g.id for g in policy.client_groups]
        if grp.strip() not in known:
            raise InvalidInput(
                f"unknown client group {grp.strip()!r} for {ctl.strip()!r} (known: {', '.join(known)})",
                field="client_group",
            )
        out.append(Membership(line, tuple(identities), ctl.strip(), grp.strip()))
    return out
