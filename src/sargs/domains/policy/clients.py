"""Client-group sources in the policy file: where "own clients" come from (issue 19, R-CON-3).

A client-group source names one table (or view) of the organisation's own system - typically the
billing system's subscribers - whose rows are the members of one client group at one controller,
and the columns that hold each member's identities. `sargs subjects sync` and the worker's
`subjects_sync` job read it and apply joins and leaves (sargs.domains.subjects.groups).

It is not a `data_sources` table: Sargs only reads who is a member, never erases or purges there.
If the same database also holds personal data Sargs must find for rights requests, declare it in
`data_sources` as well. The connection URL is a deployment secret: it comes from the environment
(`url_env`, default SARGS_CLIENTS_<ID>_URL).
"""

from __future__ import annotations

import re

from pydantic import Field

from sargs.domains.policy.problems import unknown
from sargs.domains.policy.sources import Column, IdentityKindName, SourceSlug, TableName
from sargs.domains.policy.text import Frozen, Text


class ClientGroupSource(Frozen):
    """Rows of `table` (optionally only those matching `where`) are members of `group` at `controller`.

    A person a sync put in `group` who is no longer in the table moves to `leave_group` (default:
    the policy's default client group); consents only `group` may give then lapse
    (sargs.domains.consent.lapses).
    """

    id: SourceSlug
    title: Text | None = None
    controller: SourceSlug
    group: SourceSlug
    leave_group: SourceSlug | None = None
    table: TableName
    identity: dict[IdentityKindName, Column] = Field(
        min_length=1, description="Identity kind -> the column holding it, e.g. {msisdn: msisdn}."
    )
    where: dict[Column, list[str | int | bool]] = Field(
        default_factory=dict,
        description="Only rows whose column holds one of the values, e.g. {status: [active]}.",
    )
    url_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Environment variable with the SQLAlchemy URL; default SARGS_CLIENTS_<ID>_URL.",
    )

    @property
    def url_variable(self) -> str:
        return self.url_env or "SARGS_CLIENTS_" + re.sub(r"[^A-Z0-9]", "_", self.id.upper()) + "_URL"


def client_source_problems(
    sources: list[ClientGroupSource], *, controllers: set[str], groups: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Dangling names in the client-group sources, each with its location in the file."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, source in enumerate(sources):
        at: tuple[str | int, ...] = ("client_group_sources", i)
        if source.id in seen:
            problems.append(((*at, "id"), f"duplicate id {source.id!r}"))
        seen.add(source.id)
        if source.controller not in controllers:
            problems.append(((*at, "controller"), unknown("controller", source.controller, controllers)))
        for name in ("group", "leave_group"):
            value = getattr(source, name)
            if value is not None and value not in groups:
                problems.append(((*at, name), unknown("client group", value, groups)))
        if source.leave_group is not None and source.leave_group == source.group:
            problems.append(((*at, "leave_group"), "leave_group must differ from group"))
        for column, values in source.where.items():
            if not values:
                problems.append(((*at, "where", column), "list at least one value"))
    return problems
