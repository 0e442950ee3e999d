"""Data sources in the policy file: the organisation's own databases, table by table (R-DSR-6, R-RET-2).

In the spirit of the open-source peer's dataset files: each table says which column identifies a
person, how its rows hang off other tables (references to follow to find all of a person's rows),
which data category each field holds, what erasure does to it, and which retention rules apply.
The connection URL is not policy: it comes from the environment (`url_env`), because it is a
deployment secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from sargs.domains.policy.http_sources import HttpApi, http_problems
from sargs.domains.policy.problems import unknown
from sargs.domains.policy.text import Frozen as _Frozen
from sargs.domains.policy.text import Text

# A table or column name as SQL knows it (optionally schema-qualified for tables).
Column = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
TableName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
]
SourceSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
IdentityKindName = Literal["msisdn", "email", "customer"]

# What erasure does to a table's rows: delete them, or overwrite the personal fields (each field's
# own `erasure` says how), or keep them untouched (a legal duty; `keep_reason` says which).
TableErasure = Literal["delete", "anonymise", "keep"]
# What anonymising a row does to one field: a fixed pseudonym-like value, NULL, or leave it.
FieldErasure = Literal["anonymise", "set_null", "keep"]


class SourceField(_Frozen):
    """A column holding personal data, with its data category (policy `data_categories`)."""

    name: Column
    category: SourceSlug
    erasure: FieldErasure = Field(
        default="anonymise", description="What anonymising the row does to this field."
    )


class SourceReference(_Frozen):
    """`column` in this table points to `to_column` (default: the primary key) of `table`.

    Following references from the identified rows finds the rest of a person's rows: a row of this
    table belongs to the person when its `column` matches a row of `table` that does.
    """

    column: Column
    table: TableName
    to_column: Column | None = None


class TableRetention(_Frozen):
    """A retention rule (policy `retention_rules`) applied to this table's rows.

    A rule anchored on consent withdrawal needs no date: its rows expire when the person's consent
    to the rule's purpose is withdrawn (the ledger says when). For other anchors, the date of a row
    is `date_column` of the row itself, or, with `latest_of` ("table.column"), the newest of that
    and the same column among the rows of a table that references this row (e.g. a customer's last
    order, or when they joined if that is later). Taking the newest of both means purging expired
    children first never changes a parent's fate, so a run removes exactly what its plan said.
    """

    rule: SourceSlug
    date_column: Column | None = None
    latest_of: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*$")


class ErasureExemption(_Frozen):
    """Rows erasure must keep while a retention rule's period runs (a legal duty, R-DSR-5).

    Rows whose `date_column` is older than the rule's period are erased as the table says; younger
    ones are kept and reported with `reason`.
    """

    rule: SourceSlug
    date_column: Column
    reason: Text


class SourceTable(_Frozen):
    name: TableName
    primary_key: Column = "id"
    identity: dict[IdentityKindName, Column] = Field(
        default_factory=dict,
        description="Subject identifier kind -> the column holding it, e.g. {email: email, msisdn: phone}.",
    )
    references: list[SourceReference] = Field(default_factory=list)
    fields: list[SourceField] = Field(default_factory=list)
    erasure: TableErasure = "delete"
    exemption: ErasureExemption | None = None
    keep_reason: Text | None = Field(default=None, description="Required when erasure is keep.")
    retention: list[TableRetention] = Field(default_factory=list)

    def field(self, name: str) -> SourceField | None:
        return next((f for f in self.fields if f.name == name), None)


ManualKind = Literal["access", "portability", "erasure"]
MANUAL_KINDS: tuple[ManualKind, ...] = ("access", "portability", "erasure")


class ManualWork(_Frozen):
    """How a `manual` source (a paper archive, a system with no API) is worked through: fulfilling a
    request makes a task for `assignee`, due `due_days` later; the request completes only when it is done."""

    assignee: str = Field(
        pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$",
        max_length=320,
        description="E-mail of the staff member who does the work.",
    )
    due_days: int = Field(default=7, gt=0, le=60, description="Days from fulfilment to the task's due date.")
    kinds: list[ManualKind] = Field(
        default_factory=lambda: list(MANUAL_KINDS),
        min_length=1,
        description="The requests that need work here.",
    )
    data_categories: list[SourceSlug] = Field(default_factory=list)
    instructions: Text | None = None


class DataSource(_Frozen):
    id: SourceSlug
    title: Text
    controllers: list[SourceSlug] | None = None
    kind: Literal["sql", "api", "manual", "http"] = "manual"
    url_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="Environment variable with the SQLAlchemy URL (sql) or the API's base URL (http); "
        "default SARGS_SOURCE_<ID>_URL.",
    )
    tables: list[SourceTable] = Field(default_factory=list)
    manual: ManualWork | None = Field(default=None, description="Who works a manual source, and how soon.")
    http: HttpApi | None = Field(default=None, description="How to reach an http source (kind: http).")

    @property
    def token_variable(self) -> str:
        """The environment variable with an http source's API token: SARGS_SOURCE_<ID>_TOKEN."""
        env = self.http.token_env if self.http else None
        return env or "SARGS_SOURCE_" + re.sub(r"[^A-Z0-9]", "_", self.id.upper()) + "_TOKEN"

    @property
    def url_variable(self) -> str:
        return self.url_env or "SARGS_SOURCE_" + re.sub(r"[^A-Z0-9]", "_", self.id.upper()) + "_URL"

    def table(self, name: str) -> SourceTable | None:
        return next((t for t in self.tables if t.name == name), None)


def source_problems(
    sources: list[DataSource], *, controllers: set[str], categories: set[str], rules: Mapping[str, str | None]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Dangling names in the data-source declarations, each with its location in the file.

    rules: retention rule id -> its anchor (None: a rule declared but itself invalid)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, source in enumerate(sources):
        at: tuple[str | int, ...] = ("data_sources", i)
        if source.id in seen:
            problems.append(((*at, "id"), f"duplicate id {source.id!r}"))
        seen.add(source.id)
        for j, c in enumerate(source.controllers or []):
            if c not in controllers:
                problems.append(((*at, "controllers", j), unknown("controller", c, controllers)))
        if source.kind == "sql" and not source.tables:
            problems.append(((*at, "tables"), "an sql source needs at least one table"))
        if source.manual is not None:
            if source.kind != "manual":
                problems.append(((*at, "manual"), "only a source of kind manual is worked by hand"))
            for j, d in enumerate(source.manual.data_categories):
                if d not in categories:
                    problems.append(
                        ((*at, "manual", "data_categories", j), unknown("data category", d, categories))
                    )
        if source.kind == "http" and source.http is None:
            problems.append(((*at, "http"), "an http source needs its http block (resources, paths)"))
        if source.http is not None:
            if source.kind != "http":
                problems.append(((*at, "http"), "only a source of kind http has an http block"))
            problems.extend(http_problems(source.http, (*at, "http"), categories=categories))
        names = [t.name for t in source.tables]
        for k, table in enumerate(source.tables):
            tat = (*at, "tables", k)
            if names.count(table.name) > 1:
                problems.append(((*tat, "name"), f"table {table.name!r} is listed twice"))
            fields = [f.name for f in table.fields]
            for m, f in enumerate(table.fields):
                if f.category not in categories:
                    problems.append(
                        ((*tat, "fields", m, "category"), unknown("data category", f.category, categories))
                    )
                if fields.count(f.name) > 1:
                    problems.append(((*tat, "fields", m, "name"), f"field {f.name!r} is listed twice"))
            for m, ref in enumerate(table.references):
                if ref.table not in names:
                    problems.append(((*tat, "references", m, "table"), unknown("table", ref.table, names)))
            if not table.identity and not table.references:
                problems.append(
                    ((*tat, "identity"), "a table needs an identity column or a reference to reach a person")
                )
            if table.erasure == "keep" and table.keep_reason is None:
                problems.append(((*tat, "keep_reason"), "say why erasure keeps this table's rows"))
            if table.exemption and table.exemption.rule not in rules:
                problems.append(
                    ((*tat, "exemption", "rule"), unknown("retention rule", table.exemption.rule, rules))
                )
            for m, r in enumerate(table.retention):
                if r.rule not in rules:
                    problems.append(
                        ((*tat, "retention", m, "rule"), unknown("retention rule", r.rule, rules))
                    )
                elif rules[r.rule] not in (None, "consent_withdrawal") and not (r.date_column or r.latest_of):
                    problems.append(
                        ((*tat, "retention", m), f"rule {r.rule!r} needs date_column or latest_of")
                    )
                if r.latest_of and r.latest_of.rsplit(".", 1)[0] not in names:
                    problems.append(
                        (
                            (*tat, "retention", m, "latest_of"),
                            unknown("table", r.latest_of.rsplit(".", 1)[0], names) + f" in {r.latest_of!r}",
                        )
                    )
        cycles = _cycles(source, at)
        problems.extend(cycles or _unreachable(source, at))
    return problems


def _unreachable(source: DataSource, at: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Tables whose references never lead to a table with an identity column (e.g. only to itself)."""
    reachable = {t.name for t in source.tables if t.identity}
    names = {t.name for t in source.tables}
    grew = True
    while grew:
        grew = False
        for t in source.tables:
            if t.name not in reachable and any(r.table in reachable for r in t.references):
                reachable.add(t.name)
                grew = True
    return [
        (
            (*at, "tables", k, "references"),
            f"table {t.name!r}: no reference leads to a table with an identity column",
        )
        for k, t in enumerate(source.tables)
        if t.name not in reachable and t.references and all(r.table in names for r in t.references)
    ]


def _cycles(source: DataSource, at: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """References must not form a cycle: erasure deletes in their order (children first)."""
    edges = {t.name: {r.table for r in t.references if r.table != t.name} for t in source.tables}
    state: dict[str, int] = {}

    def visit(name: str) -> bool:
        state[name] = 1
        for nxt in edges.get(name, ()):
            if state.get(nxt) == 1 or (state.get(nxt) is None and visit(nxt)):
                return True
        state[name] = 2
        return False

    for k, table in enumerate(source.tables):
        if state.get(table.name) is None and visit(table.name):
            return [((*at, "tables", k, "references"), f"references through {table.name!r} form a cycle")]
    return []
