"""Retention plans (R-RET-1): a dry run. Per source and table, how many rows expired, why (rule and
cutoff), and how many of them a run would delete or anonymise, keep under a legal hold, keep for the
state archive, or keep because rows that stay still reference them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sargs.core.errors import SargsError
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.retention.coverage import resolve_rules, retained_sources
from sargs.domains.retention.internal import INTERNAL_SOURCE, internal_stores, store_cutoff
from sargs.domains.retention.ports import RetentionConnectorFactory, TableCounts


@dataclass(frozen=True)
class TablePlan:
    table: str
    action: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    counts: TableCounts


@dataclass(frozen=True)
class SourcePlan:
    policy_id: str
    source_id: str
    as_of: datetime
    tables: tuple[TablePlan, ...]
    error: str | None = None

    @property
    def to_purge(self) -> int:
        """Rows a run destroys (deletes or anonymises)."""
        return sum(t.counts.to_purge for t in self.tables)

    @property
    def to_archive(self) -> int:
        """Expired rows kept for the state archive (R 2.5)."""
        return sum(t.counts.archive for t in self.tables)

    @property
    def kept(self) -> int:
        """Expired rows kept for another reason: a legal hold, or rows that stay still reference them."""
        return sum(t.counts.held + t.counts.blocked for t in self.tables)


def plan(
    *,
    session: Session,
    registry: PolicyRegistry,
    connectors: RetentionConnectorFactory,
    now: datetime,
    policy_id: str | None = None,
    source_id: str | None = None,
) -> list[SourcePlan]:
    """Dry run: per source and table, how many rows expired at `now`, why, and what a run would do."""
    plans = []
    for policy, source in retained_sources(registry=registry, policy_id=policy_id, source_id=source_id):
        rules = resolve_rules(session=session, policy=policy, source=source, as_of=now, now=now)
        try:
            connector = connectors(rules)
        except SargsError as exc:
            plans.append(SourcePlan(policy.id, source.id, now, (), error=exc.message))
            continue
        try:
            tables = tuple(
                TablePlan(
                    tr.table.name,
                    tr.action,
                    tr.rule_ids,
                    tuple(c.describe() for c in tr.conditions),
                    connector.count(table=tr.table.name),
                )
                for tr in rules.tables
            )
        finally:
            connector.close()
        plans.append(SourcePlan(policy.id, source.id, now, tables))
    if source_id in (None, INTERNAL_SOURCE) and policy_id is None:
        internal = []
        for store in internal_stores(registry):
            before = store_cutoff(store, registry, now)
            n = store.count_expired(session, before) if before is not None else 0
            internal.append(
                TablePlan(
                    store.name,
                    "delete",
                    (store.rule_id,),
                    (f"{store.rule_id}: on or before {before:%Y-%m-%d %H:%M}" if before else "no period",),
                    TableCounts(expired=n, to_purge=n),
                )
            )
        plans.append(SourcePlan(INTERNAL_SOURCE, INTERNAL_SOURCE, now, tuple(internal)))
    return plans
