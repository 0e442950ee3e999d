"""What retention covers: the SQL sources with retention bindings, and their rules resolved at an
instant with what Sargs knows -- the legal holds in force and the consent withdrawals in the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput
from sargs.domains.consent.model import ConsentState
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.retention.internal import INTERNAL_SOURCE
from sargs.domains.retention.model import RetentionHold
from sargs.domains.retention.rules import Holds, SourceRules, source_rules
from sargs.domains.subjects.model import SubjectIdentity


def retained_sources(
    *, registry: PolicyRegistry, policy_id: str | None = None, source_id: str | None = None
) -> list[tuple[Policy, DataSource]]:
    """Every SQL source with retention bindings, optionally one policy's or one source's."""
    if policy_id is not None and all(p.id != policy_id for p in registry.policies):
        known = ", ".join(p.id for p in registry.policies)
        raise InvalidInput(f"unknown policy {policy_id!r} (loaded: {known})", field="policy")
    found = [
        (policy, source)
        for policy in registry.policies
        if policy_id is None or policy.id == policy_id
        for source in policy.data_sources
        if source.kind == "sql" and any(t.retention for t in source.tables)
        if source_id is None or source.id == source_id
    ]
    if source_id is not None and source_id != INTERNAL_SOURCE and not found:
        raise InvalidInput(f"no SQL data source {source_id!r} with retention rules", field="source")
    return found


def controllers_of(policy: Policy, source: DataSource) -> list[str]:
    return list(source.controllers or [c.id for c in policy.controllers])


def active_holds(*, session: Session, source_id: str, now: datetime) -> Holds:
    """The holds that apply to one source now; a held person's every known identity is held."""
    rows = session.scalars(select(RetentionHold).where(RetentionHold.released_at.is_(None))).all()
    rows = [r for r in rows if r.until is None or r.until > now]
    tables = frozenset(
        r.table_name for r in rows if r.scope == "table" and r.source_id == source_id and r.table_name
    )
    pairs = {(r.identity_kind, r.identity_value) for r in rows if r.scope == "subject"}
    identities: dict[str, set[str]] = {}
    if pairs:
        for kind, value in pairs:
            identities.setdefault(str(kind), set()).add(str(value))
        subject_ids = select(SubjectIdentity.subject_id).where(
            or_(*(and_(SubjectIdentity.kind == k, SubjectIdentity.value == v) for k, v in pairs))
        )
        for kind, value in session.execute(
            select(SubjectIdentity.kind, SubjectIdentity.value).where(
                SubjectIdentity.subject_id.in_(subject_ids)
            )
        ):
            identities.setdefault(kind, set()).add(value)
    return Holds(tables=tables, identities={k: tuple(sorted(v)) for k, v in identities.items()})


def withdrawn_identities(
    *, session: Session, controllers: Iterable[str], purpose: str, before: datetime | None
) -> dict[str, tuple[str, ...]]:
    """Identities (kind -> values) of people whose consent to `purpose` is withdrawn (and not given again)."""
    stmt = (
        select(SubjectIdentity.kind, SubjectIdentity.value)
        .join(ConsentState, ConsentState.subject_id == SubjectIdentity.subject_id)
        .where(
            ConsentState.controller.in_(list(controllers)),
            ConsentState.purpose == purpose,
            ConsentState.status == "withdrawn",
        )
    )
    if before is not None:
        stmt = stmt.where(ConsentState.since <= before)
    out: dict[str, set[str]] = {}
    for kind, value in session.execute(stmt):
        out.setdefault(kind, set()).add(value)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def resolve_rules(
    *, session: Session, policy: Policy, source: DataSource, as_of: datetime, now: datetime
) -> SourceRules:
    """The source's rules at `as_of`, with today's holds and the withdrawals recorded in the ledger."""
    resolved = source_rules(
        policy=policy,
        source=source,
        now=as_of,
        holds=active_holds(session=session, source_id=source.id, now=now),
    )
    controllers = controllers_of(policy, source)
    tables = []
    for tr in resolved.tables:
        groups = []
        for purpose, conditions in tr.purposes:
            done = []
            for c in conditions:
                if c.on_withdrawal:
                    c = replace(
                        c,
                        withdrawn=withdrawn_identities(
                            session=session, controllers=controllers, purpose=c.rule.purpose, before=c.cutoff
                        ),
                    )
                done.append(c)
            groups.append((purpose, tuple(done)))
        tables.append(replace(tr, purposes=tuple(groups)))
    return replace(resolved, tables=tuple(tables))
