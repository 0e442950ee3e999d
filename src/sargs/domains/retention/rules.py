"""Retention rules at one instant (R-RET-1): cutoffs, which rules bind a table, how they combine. Pure.

How a row's fate is decided (`decide` spells it out; the SQL connector compiles the same logic):

- Each `retention:` binding of a table names a rule. A binding with a date has expired when
  `anchor + period <= now` (calendar arithmetic: P10Y from 2016-02-29 ends 2026-02-28). The anchor
  is the row's `date_column`; with `latest_of`, the newest of that and the dates of the rows
  referencing it (a customer's last order, or the customer's creation if they never ordered). It is
  the newest of both, not a fallback, so that purging the expired children first (as runs do)
  cannot move a parent's anchor back to an earlier own date; for data where children are never
  older than their parent the two readings agree. With `latest_of` and no `date_column`, a row no
  other row references has no anchor and is kept. A binding whose rule is anchored on consent withdrawal has expired
  when the person's consent to the rule's purpose is withdrawn and not in force again (and, if the
  rule also has a period, the withdrawal is at least that old).
- Several bindings for ONE purpose: whichever ends first (policy: "several rules for one purpose:
  whichever ends first") -- the purpose no longer needs the row once ANY of them has expired.
- Bindings for DIFFERENT purposes: the row is kept while ANY purpose still needs it, so it
  expires only when every purpose bound to the table has expired. (A row no rule binds never
  expires: retention only removes what a rule says may go.)
- A legal hold (on the table, or on a person whose rows these are) keeps an expired row untouched.
- Archive exemption (R 2.5): an expired row that a rule has released is NOT destroyed when the
  rule's `archive_exemption` covers its table: `true` covers every table the rule binds; otherwise
  the tables it names, and the tables with a field of one of its data categories (`archived`). The plan
  and the run report those rows as "for the state archive" and leave them in place until they
  have been handed over (then the DPO deletes them, or narrows the rule); the rest is destroyed.
- A row that would be deleted while rows of another declared table still reference it is kept
  (children are purged first, so this only happens when a child is still needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta

from sargs.domains.policy.schema import ArchiveExemption, Duration, Policy, RetentionRule
from sargs.domains.policy.sources import DataSource, SourceTable

Action = Literal["delete", "anonymise"]
Fate = Literal["keep", "purge", "held", "archive", "blocked"]


def _delta(period: Duration) -> relativedelta:
    return relativedelta(years=period.years, months=period.months, weeks=period.weeks, days=period.days)


def period_end(anchor: datetime, period: Duration) -> datetime:
    """When a period that started at `anchor` ends (month ends clamp: 2016-02-29 + P10Y = 2026-02-28)."""
    result: datetime = anchor + _delta(period)
    return result


def cutoff(period: Duration, now: datetime) -> datetime:
    """The latest anchor whose period has ended at `now`: `a <= cutoff(p, now)` iff `a + p <= now`."""
    result: datetime = now - _delta(period)
    # Month-end clamping makes `+ period` many-to-one (2016-02-29 and 2016-02-28 both end on
    # 2026-02-28), so up to three later days may also have ended; take the latest of them.
    for days in (3, 2, 1):
        later = result + timedelta(days=days)
        if period_end(later, period) <= now:
            return later
    return result


@dataclass(frozen=True)
class LatestOf:
    """The anchor is the newest `column` among rows of `table` whose `via` points at this row's `to`."""

    table: str
    column: str
    via: str
    to: str


@dataclass(frozen=True)
class Condition:
    """One retention binding of a table, resolved at an instant."""

    rule: RetentionRule
    cutoff: datetime | None  # anchor <= cutoff has expired; None: withdrawal counts at once
    date_column: str | None = None
    latest_of: LatestOf | None = None
    # consent_withdrawal: identity kind -> identities whose consent is withdrawn (filled by the service)
    withdrawn: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    archive: bool = False  # what this binding releases goes to the state archive (`archived`)

    @property
    def on_withdrawal(self) -> bool:
        return self.rule.anchor == "consent_withdrawal"

    def describe(self) -> str:
        """Why rows expire under this binding, and whether they go to the archive (no personal data)."""
        if self.on_withdrawal:
            text = f"{self.rule.id}: consent to {self.rule.purpose} withdrawn"
            if self.rule.period is not None and self.cutoff is not None:
                text += f" on or before {self.cutoff:%Y-%m-%d %H:%M}"
            return text + self._archive_note()
        assert self.cutoff is not None
        what = (
            f"newest {self.latest_of.table}.{self.latest_of.column}"
            + (f" and {self.date_column}" if self.date_column else "")
            if self.latest_of
            else str(self.date_column)
        )
        period = self.rule.period.iso() if self.rule.period else ""
        return (
            f"{self.rule.id}: {what} on or before {self.cutoff:%Y-%m-%d %H:%M} ({period})"
            + self._archive_note()
        )

    def _archive_note(self) -> str:
        if not self.archive:
            return ""
        if self.rule.archive_exemption is True:
            return (
                "; kept for the state archive: archive_exemption is true for the whole rule"
                " (name its tables or data_categories to destroy the rest)"
            )
        return "; kept for the state archive (R 2.5)"


@dataclass(frozen=True)
class TableRules:
    """Every binding of one table, grouped by purpose: AND across purposes, OR within one."""

    table: SourceTable
    purposes: tuple[tuple[str, tuple[Condition, ...]], ...]
    action: Action
    held: bool = False  # a legal hold on the whole table

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(c for _, group in self.purposes for c in group)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.rule.id for c in self.conditions))

    @property
    def archive_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.archive)


@dataclass(frozen=True)
class Holds:
    """Active legal holds of one source: whole tables, and people by identity (kind -> values)."""

    tables: frozenset[str] = frozenset()
    identities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tables) or any(self.identities.values())


@dataclass(frozen=True)
class SourceRules:
    """What retention does to one source at one instant: its tables in purge order (children first)."""

    policy_id: str
    source: DataSource
    now: datetime
    tables: tuple[TableRules, ...]
    holds: Holds = Holds()

    def table(self, name: str) -> TableRules | None:
        return next((t for t in self.tables if t.table.name == name), None)


def purge_order(source: DataSource) -> list[SourceTable]:
    """Tables with children before their parents (references point from child to parent)."""
    ordered: list[SourceTable] = []
    placed: set[str] = set()
    remaining = list(source.tables)
    while remaining:
        for table in remaining:
            children = [
                t
                for t in source.tables
                if t.name not in placed and t.name != table.name and _refers(t, table.name)
            ]
            if not children:
                ordered.append(table)
                placed.add(table.name)
                remaining.remove(table)
                break
        else:  # a cycle; the policy loader refuses these, keep declaration order
            ordered.extend(remaining)
            break
    return ordered


def _refers(table: SourceTable, parent: str) -> bool:
    return any(r.table == parent for r in table.references)


def children_of(source: DataSource, parent: SourceTable) -> list[tuple[SourceTable, str, str]]:
    """(child table, its referencing column, the parent column it points at) for every reference."""
    return [
        (t, r.column, r.to_column or parent.primary_key)
        for t in source.tables
        for r in t.references
        if r.table == parent.name and t.name != parent.name
    ]


def _latest_of(source: DataSource, table: SourceTable, spec: str) -> LatestOf:
    other_name, column = spec.rsplit(".", 1)
    other = source.table(other_name)
    if other is None:
        raise ValueError(f"latest_of {spec!r}: no table {other_name!r} in source {source.id!r}")
    for ref in other.references:
        if ref.table == table.name:
            return LatestOf(other_name, column, ref.column, ref.to_column or table.primary_key)
    raise ValueError(f"latest_of {spec!r}: {other_name!r} has no reference to {table.name!r}")


def archived(rule: RetentionRule, source: DataSource, table: SourceTable) -> bool:
    """Whether what `rule` releases of `table` goes to the state archive (R 2.5) instead of being
    destroyed: the whole rule (`archive_exemption: true`), the table named, or a field's category."""
    exemption = rule.archive_exemption
    if not isinstance(exemption, ArchiveExemption):
        return bool(exemption)
    if f"{source.id}/{table.name}" in exemption.tables:
        return True
    return any(f.category in exemption.data_categories for f in table.fields)


def table_rules(
    *, policy: Policy, source: DataSource, table: SourceTable, now: datetime, held_tables: Iterable[str] = ()
) -> TableRules | None:
    """The bindings of `table` resolved at `now`, or None when no rule binds it (it never expires)."""
    rules = {r.id: r for r in policy.retention_rules}
    groups: dict[str, list[Condition]] = {}
    for binding in table.retention:
        rule = rules.get(binding.rule)
        if rule is None:
            continue
        at = cutoff(rule.period, now) if rule.period is not None else None
        condition = Condition(
            rule=rule,
            cutoff=at,
            date_column=binding.date_column,
            latest_of=_latest_of(source, table, binding.latest_of) if binding.latest_of else None,
            archive=archived(rule, source, table),
        )
        groups.setdefault(rule.purpose, []).append(condition)
    if not groups:
        return None
    anonymise = table.erasure == "anonymise" or any(
        c.rule.action == "anonymise" for g in groups.values() for c in g
    )
    return TableRules(
        table=table,
        purposes=tuple((p, tuple(cs)) for p, cs in groups.items()),
        action="anonymise" if anonymise else "delete",
        held=table.name in set(held_tables),
    )


def source_rules(*, policy: Policy, source: DataSource, now: datetime, holds: Holds = Holds()) -> SourceRules:
    """Every bound table of `source` at `now`, children first."""
    tables = []
    for table in purge_order(source):
        resolved = table_rules(policy=policy, source=source, table=table, now=now, held_tables=holds.tables)
        if resolved is not None:
            tables.append(resolved)
    return SourceRules(policy_id=policy.id, source=source, now=now, tables=tuple(tables), holds=holds)


# --- the decision for one row, in plain Python (the specification the SQL connector compiles) ----


@dataclass(frozen=True)
class RowFacts:
    """What is known about one row: each binding's anchor, withdrawals, holds and live children."""

    anchors: Mapping[str, datetime | None] = field(default_factory=dict)  # rule id -> anchor date
    withdrawn: Mapping[str, datetime] = field(default_factory=dict)  # purpose -> withdrawn at
    held: bool = False
    live_children: bool = False


def condition_expired(condition: Condition, facts: RowFacts) -> bool:
    """Whether one binding no longer needs the row."""
    if condition.on_withdrawal:
        at = facts.withdrawn.get(condition.rule.purpose)
        return at is not None and (condition.cutoff is None or at <= condition.cutoff)
    anchor = facts.anchors.get(condition.rule.id)
    return anchor is not None and condition.cutoff is not None and anchor <= condition.cutoff


def decide(rules: TableRules, facts: RowFacts) -> Fate:
    """What a run does to a row: keep it, purge it, or keep it because of a hold, the archive or children."""
    if not all(any(condition_expired(c, facts) for c in group) for _, group in rules.purposes):
        return "keep"
    if rules.held or facts.held:
        return "held"
    if any(condition_expired(c, facts) for c in rules.archive_conditions):
        return "archive"
    if rules.action == "delete" and facts.live_children:
        return "blocked"
    return "purge"
