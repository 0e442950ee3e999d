"""Retention plans and runs, legal holds and the destruction log (R-RET-1, R-RET-2).

A plan is a dry run: per source and table, how many rows expired, why (rule and cutoff), and how
many of them a run would delete or anonymise, keep under a legal hold, keep for the state archive,
or keep because rows that stay still reference them.

A run purges in bounded batches (keyset pagination on the primary key). Each batch is one short
transaction on the source, bracketed by two small transactions in Sargs' database: the batch is
written to the destruction log as `pending` (its key range and size) before the source is touched,
and marked `done` with the rows actually removed, together with the run's checkpoint, after. A run
that stops (Ctrl-C, crash, `--max-rows`) is resumed by the next run on the same source, at the same
instant (`as_of`), from its checkpoint; a `pending` batch is settled first by asking the source how
many of its rows are still there. So no batch is lost or counted twice. One run at a time works on
a source: it holds a lease it renews after every batch. Unlike other services, a run owns its
transactions (one per step), which is what makes it resumable.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sargs.core.ids import new_id
from sargs.domains.consent.model import ConsentState
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.retention.internal import INTERNAL_SOURCE, InternalStore, internal_stores
from sargs.domains.retention.model import DestructionLogEntry, RetentionHold, RetentionLease, RetentionRun
from sargs.domains.retention.ports import RetentionConnector, RetentionConnectorFactory, TableCounts
from sargs.domains.retention.rules import Holds, SourceRules, cutoff, source_rules
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectIdentity

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
UNFINISHED = ("running", "interrupted", "failed", "paused")


# --- what retention covers -------------------------------------------------------------------------


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


def _controllers(policy: Policy, source: DataSource) -> list[str]:
    return list(source.controllers or [c.id for c in policy.controllers])


# --- legal holds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldView:
    id: str
    scope: str
    target: str  # "email:a@b.lv" (masked in lists) or "shop/orders"
    reason: str
    created_by: str
    created_at: datetime
    until: datetime | None
    released_at: datetime | None


def _view(row: RetentionHold, *, masked: bool = True) -> HoldView:
    if row.scope == "subject":
        identity = Identity(row.identity_kind, row.identity_value or "")  # type: ignore[arg-type]
        target = identity.masked() if masked else str(identity)
    else:
        target = f"{row.source_id}/{row.table_name}"
    return HoldView(
        row.id, row.scope, target, row.reason, row.created_by, row.created_at, row.until, row.released_at
    )


def add_hold(
    *,
    session: Session,
    registry: PolicyRegistry,
    reason: str,
    created_by: str,
    now: datetime,
    identity: Identity | None = None,
    source_id: str | None = None,
    table: str | None = None,
    until: datetime | None = None,
    sources: set[str] | None = None,
) -> HoldView:
    """Place a legal hold on a person (by identity) or on a declared table; nothing held is purged.

    `sources`: the sources the caller may manage (None: all). A hold on a person holds them in every
    company's sources, so only a group-wide caller may place one."""
    if sources is not None and (identity is not None or (source_id or "") not in sources):
        raise PermissionDenied(
            "a legal hold on a person, or on another company's source, needs a group-wide DPO or admin"
        )
    reason = reason.strip()
    if len(reason) < 4 or len(reason) > 500:
        raise InvalidInput("say why the data is held (4 to 500 characters)", field="reason")
    if until is not None and until <= now:
        raise InvalidInput("a hold must end in the future (or not at all)", field="until")
    if (identity is None) == (table is None):
        raise InvalidInput("hold either a person (identity) or a table (source and table)", field="identity")
    row = RetentionHold(id=new_id(), reason=reason, created_by=created_by, created_at=now, until=until)
    if identity is not None:
        row.scope, row.identity_kind, row.identity_value = "subject", identity.kind, identity.value
    else:
        known = {s.id: s for _, s in retained_sources(registry=registry)}
        source = known.get(source_id or "")
        if source is None:
            raise InvalidInput(f"unknown source {source_id!r} (known: {', '.join(known)})", field="source")
        if source.table(table or "") is None:
            names = ", ".join(t.name for t in source.tables)
            raise InvalidInput(f"source {source.id!r} has no table {table!r} (known: {names})", field="table")
        row.scope, row.source_id, row.table_name = "table", source.id, table
    session.add(row)
    session.flush()
    return _view(row)


def _hold_in_scope(row: RetentionHold, sources: set[str] | None) -> bool:
    """Holds a caller who may manage `sources` (None: all) sees and changes: table holds on those."""
    return sources is None or (row.scope == "table" and row.source_id in sources)


def list_holds(
    *, session: Session, now: datetime, include_released: bool = False, sources: set[str] | None = None
) -> list[HoldView]:
    """Holds in force (or all of them) on `sources` (None: all), newest first; identities masked."""
    stmt = select(RetentionHold).order_by(RetentionHold.created_at.desc())
    rows = session.scalars(stmt).all()
    return [
        _view(r)
        for r in rows
        if _hold_in_scope(r, sources)
        and (include_released or (r.released_at is None and (r.until is None or r.until > now)))
    ]


def release_hold(
    *, session: Session, hold_id: str, released_by: str, now: datetime, sources: set[str] | None = None
) -> HoldView:
    """End a hold; rows it kept are purged by the next run if their rules say so."""
    row = session.get(RetentionHold, hold_id)
    if row is None or not _hold_in_scope(row, sources):
        raise NotFound(f"no legal hold {hold_id!r}")
    if row.released_at is not None:
        raise Conflict(f"hold {hold_id!r} was already released")
    row.released_at, row.released_by = now, released_by
    session.flush()
    return _view(row)


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


# --- rules with what Sargs knows (withdrawals, holds) ----------------------------------------------


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
    controllers = _controllers(policy, source)
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


# --- plan ------------------------------------------------------------------------------------------


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
        return sum(t.counts.to_purge for t in self.tables)


def _store_cutoff(store: InternalStore, registry: PolicyRegistry, now: datetime) -> datetime | None:
    if store.period is not None:
        return cutoff(store.period, now)
    for policy in registry.policies:
        for rule in policy.retention_rules:
            if rule.id == store.rule_id and rule.period is not None:
                return cutoff(rule.period, now)
    return None


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
    from sargs.core.errors import SargsError

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
            before = _store_cutoff(store, registry, now)
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


# --- run -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Reported after every batch: the table, rows removed from it so far in this run, and its total."""

    source_id: str
    table: str
    removed: int
    total: int | None


@dataclass(frozen=True)
class RunReport:
    id: str
    policy_id: str
    source_id: str
    status: str
    as_of: datetime
    resumed: bool
    rows_removed: int
    counts: dict[str, dict[str, int]]


def _lease_key(policy_id: str, source_id: str) -> str:
    return f"{policy_id}/{source_id}"


def _take_lease(
    session: Session, *, key: str, run_id: str, owner: str, now: datetime, lease: timedelta = LEASE
) -> None:
    row = session.get(RetentionLease, key, with_for_update=True)
    if row is None:
        session.add(RetentionLease(source_key=key, run_id=run_id, owner=owner, expires_at=now + lease))
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"another retention run is working on {key}") from None
        return
    if row.owner != owner and row.expires_at > now:
        raise Conflict(
            f"retention run {row.run_id} is working on {key} (lease until {row.expires_at:%H:%M:%S} UTC)"
        )
    row.run_id, row.owner, row.expires_at = run_id, owner, now + lease
    session.flush()


def _renew_lease(session: Session, *, key: str, owner: str, now: datetime, lease: timedelta = LEASE) -> None:
    result = session.execute(
        update(RetentionLease)
        .where(RetentionLease.source_key == key, RetentionLease.owner == owner)
        .values(expires_at=now + lease)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"the lease on {key} was taken over by another run; stopping")


def _release_lease(session: Session, *, key: str, owner: str) -> None:
    session.execute(
        delete(RetentionLease).where(RetentionLease.source_key == key, RetentionLease.owner == owner)
    )


def _open_run(
    session: Session,
    *,
    policy_id: str,
    source_id: str,
    now: datetime,
    started_by: str,
    batch_size: int,
    max_rows: int | None,
) -> tuple[RetentionRun, bool]:
    run = session.scalars(
        select(RetentionRun)
        .where(
            RetentionRun.policy_id == policy_id,
            RetentionRun.source_id == source_id,
            RetentionRun.status.in_(UNFINISHED),
        )
        .order_by(RetentionRun.started_at.desc())
        .limit(1)
    ).first()
    if run is not None:
        run.status, run.error, run.batch_size, run.max_rows = "running", None, batch_size, max_rows
        return run, True
    run = RetentionRun(
        id=new_id(),
        policy_id=policy_id,
        source_id=source_id,
        status="running",
        as_of=now,
        started_at=now,
        started_by=started_by[:120],
        batch_size=batch_size,
        max_rows=max_rows,
        rows_removed=0,
        counts={},
        checkpoint={},
    )
    session.add(run)
    session.flush()
    return run, False


def _count_into(run: RetentionRun, table: str, action: str, n: int) -> None:
    counts = {k: dict(v) for k, v in (run.counts or {}).items()}
    key = "deleted" if action == "delete" else "anonymised"
    counts.setdefault(table, {}).setdefault(key, 0)
    counts[table][key] += n
    run.counts = counts
    run.rows_removed = (run.rows_removed or 0) + n


class LeaseLost(Conflict):
    """This run stalled past its lease and another run took the source over: stop, touch nothing."""


class _Stop(Exception):
    """--max-rows reached: the run pauses and the next one continues it."""


def run_retention(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    connectors: RetentionConnectorFactory,
    clock: Callable[[], datetime],
    policy_id: str,
    source_id: str,
    started_by: str,
    batch_size: int = 1000,
    max_rows: int | None = None,
    progress: Callable[[Progress], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    lease: timedelta = LEASE,
) -> RunReport:
    """Purge one source's expired rows (or resume its unfinished run); see the module docstring.
    When `should_stop` says so after a batch, the run pauses there and the next run resumes it."""
    if should_stop is not None:
        report_to = progress

        def progress(step: Progress) -> None:  # after every settled batch: a safe place to pause
            if report_to is not None:
                report_to(step)
            if should_stop():
                raise _Stop

    if not 1 <= batch_size <= 100_000:
        raise InvalidInput("batch size must be between 1 and 100000", field="batch_size")
    if max_rows is not None and max_rows < 1:
        raise InvalidInput("max rows must be at least 1", field="max_rows")
    internal = source_id == INTERNAL_SOURCE
    if internal:
        policy_id = INTERNAL_SOURCE
        pair = None
    else:
        found = retained_sources(registry=registry, policy_id=policy_id, source_id=source_id)
        if not found:
            raise InvalidInput(
                f"policy {policy_id!r} has no source {source_id!r} with retention rules", field="source"
            )
        pair = found[0]
    key, owner = _lease_key(policy_id, source_id), secrets.token_hex(16)
    with sessions.begin() as session:
        now = clock()
        run, resumed = _open_run(
            session,
            policy_id=policy_id,
            source_id=source_id,
            now=now,
            started_by=started_by,
            batch_size=batch_size,
            max_rows=max_rows,
        )
        _take_lease(session, key=key, run_id=run.id, owner=owner, now=now, lease=lease)
        run_id, as_of = run.id, run.as_of
    status, error = "finished", None
    try:
        if pair is None:
            _run_internal(
                sessions, registry, clock, run_id, key, owner, batch_size, max_rows, progress, lease=lease
            )
        else:
            _run_source(
                sessions,
                connectors,
                clock,
                pair,
                run_id,
                as_of,
                key,
                owner,
                batch_size,
                max_rows,
                progress,
                lease=lease,
            )
    except _Stop:
        status = "paused"
    except KeyboardInterrupt:
        status, error = "interrupted", "stopped by the operator"
        raise
    except Exception as exc:
        from sargs.core.errors import SargsError

        status = "failed"
        error = exc.message if isinstance(exc, SargsError) else f"{type(exc).__name__} (see the server log)"
        log.warning("retention run %s on %s stopped by %s", run_id, key, type(exc).__name__)
        raise
    finally:
        lost = isinstance(sys.exc_info()[1], LeaseLost)
        with sessions.begin() as session:
            final = session.get(RetentionRun, run_id)
            assert final is not None
            if not lost:  # else the run belongs to whoever took the lease over
                final.status, final.error = status, error
                if status == "finished":
                    final.finished_at = clock()
                _release_lease(session, key=key, owner=owner)
            report = RunReport(
                final.id,
                final.policy_id,
                final.source_id,
                final.status,
                final.as_of,
                resumed,
                final.rows_removed,
                {k: dict(v) for k, v in (final.counts or {}).items()},
            )
    log.info("retention run %s on %s: %s, %d rows removed", run_id, key, status, report.rows_removed)
    return report


def _run_source(
    sessions: sessionmaker[Session],
    connectors: RetentionConnectorFactory,
    clock: Callable[[], datetime],
    pair: tuple[Policy, DataSource],
    run_id: str,
    as_of: datetime,
    key: str,
    owner: str,
    batch_size: int,
    max_rows: int | None,
    progress: Callable[[Progress], object] | None,
    lease: timedelta = LEASE,
) -> None:
    policy, source = pair
    with sessions.begin() as session:
        rules = resolve_rules(session=session, policy=policy, source=source, as_of=as_of, now=clock())
    connector = connectors(rules)
    try:
        _settle_pending(sessions, connector, run_id, clock())
        removed_now = 0
        for tr in rules.tables:
            name = tr.table.name
            with sessions.begin() as session:
                run = session.get(RetentionRun, run_id)
                assert run is not None
                checkpoint = dict(run.checkpoint or {})
                done_before = int(((run.counts or {}).get(name) or {}).get("deleted", 0)) + int(
                    ((run.counts or {}).get(name) or {}).get("anonymised", 0)
                )
            if name in checkpoint.get("done", []):
                continue
            after = (checkpoint.get("keys") or {}).get(name)
            total = done_before + connector.count(table=name).to_purge
            table_removed = done_before
            while True:
                limit = batch_size
                if max_rows is not None:
                    if removed_now >= max_rows:
                        raise _Stop
                    limit = min(limit, max_rows - removed_now)
                keys = connector.next_keys(table=name, after=after, limit=limit)
                if not keys:
                    with sessions.begin() as session:
                        run = session.get(RetentionRun, run_id)
                        assert run is not None
                        cp = dict(run.checkpoint or {})
                        cp["done"] = [*cp.get("done", []), name]
                        run.checkpoint = cp
                    break
                first, last = keys[0], keys[-1]
                with sessions.begin() as session:
                    _renew_lease(session, key=key, owner=owner, now=clock(), lease=lease)
                    entry = DestructionLogEntry(
                        run_id=run_id,
                        policy_id=policy.id,
                        source_id=source.id,
                        table_name=name,
                        rules=",".join(tr.rule_ids)[:500],
                        action=tr.action,
                        status="pending",
                        rows=len(keys),
                        key_first=str(first)[:120],
                        key_last=str(last)[:120],
                        at=clock(),
                    )
                    session.add(entry)
                    session.flush()
                    run = session.get(RetentionRun, run_id)
                    assert run is not None
                    cp = dict(run.checkpoint or {})
                    cp["pending"] = {"seq": entry.seq, "table": name, "first": first, "last": last}
                    run.checkpoint = cp
                    seq = entry.seq
                n = connector.purge(table=name, first=first, last=last)
                _settle(sessions, run_id, seq, name, tr.action, n, last, clock())
                after = last
                removed_now += n
                table_removed += n
                if progress is not None:
                    progress(Progress(source.id, name, table_removed, total))
    finally:
        connector.close()


def _settle(
    sessions: sessionmaker[Session],
    run_id: str,
    seq: int,
    table: str,
    action: str,
    n: int,
    last: Any,
    now: datetime,
) -> None:
    """Mark a batch done with the rows it removed, and move the checkpoint past it."""
    with sessions.begin() as session:
        entry = session.get(DestructionLogEntry, seq)
        run = session.get(RetentionRun, run_id)
        assert entry is not None and run is not None
        entry.status, entry.rows, entry.at = "done", n, now
        cp = dict(run.checkpoint or {})
        cp.pop("pending", None)
        cp["keys"] = {**(cp.get("keys") or {}), table: last}
        run.checkpoint = cp
        _count_into(run, table, action, n)


def _settle_pending(
    sessions: sessionmaker[Session], connector: RetentionConnector, run_id: str, now: datetime
) -> None:
    """A batch logged as pending when the run stopped: finish it, or record what the source shows it did."""
    with sessions.begin() as session:
        run = session.get(RetentionRun, run_id)
        assert run is not None
        pending = (run.checkpoint or {}).get("pending")
        if not pending:
            return
        entry = session.get(DestructionLogEntry, pending["seq"])
        assert entry is not None
        expected, action = entry.rows, entry.action
    table, first, last = pending["table"], pending["first"], pending["last"]
    left = connector.remaining(table=table, first=first, last=last)
    # One source transaction per batch: all of it happened (nothing left), or none of it (do it now).
    n = expected if left == 0 else connector.purge(table=table, first=first, last=last)
    _settle(sessions, run_id, pending["seq"], table, action, n, last, now)


def _run_internal(
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    clock: Callable[[], datetime],
    run_id: str,
    key: str,
    owner: str,
    batch_size: int,
    max_rows: int | None,
    progress: Callable[[Progress], object] | None,
    lease: timedelta = LEASE,
) -> None:
    removed_now = 0
    for store in internal_stores(registry):
        before = _store_cutoff(store, registry, clock())
        if before is None:
            continue
        removed = 0
        while True:
            limit = batch_size
            if max_rows is not None:
                if removed_now >= max_rows:
                    raise _Stop
                limit = min(limit, max_rows - removed_now)
            with sessions.begin() as session:
                _renew_lease(session, key=key, owner=owner, now=clock(), lease=lease)
                n = store.purge_expired(session, before, limit)
                if n:
                    session.add(
                        DestructionLogEntry(
                            run_id=run_id,
                            policy_id=INTERNAL_SOURCE,
                            source_id=INTERNAL_SOURCE,
                            table_name=store.name,
                            rules=store.rule_id,
                            action="delete",
                            status="done",
                            rows=n,
                            key_first=None,
                            key_last=None,
                            at=clock(),
                        )
                    )
                    run = session.get(RetentionRun, run_id)
                    assert run is not None
                    _count_into(run, store.name, "delete", n)
            removed += n
            removed_now += n
            if progress is not None and n:
                progress(Progress(INTERNAL_SOURCE, store.name, removed, None))
            if n < limit:
                break


# --- reading runs and the log ----------------------------------------------------------------------


def list_runs(*, session: Session, limit: int = 50) -> list[RetentionRun]:
    """The latest runs, newest first."""
    return list(session.scalars(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(limit)))


def destruction_log(
    *, session: Session, run_id: str | None = None, limit: int = 200, before_seq: int | None = None
) -> list[DestructionLogEntry]:
    """What was removed, newest first: source, table, rows, key range, rules, run, when."""
    stmt = select(DestructionLogEntry).order_by(DestructionLogEntry.seq.desc()).limit(limit)
    if run_id is not None:
        stmt = stmt.where(DestructionLogEntry.run_id == run_id)
    if before_seq is not None:
        stmt = stmt.where(DestructionLogEntry.seq < before_seq)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class RetentionOverview:
    """For the DPO dashboard: the latest runs and rows removed per rule."""

    runs: list[RetentionRun]
    removed_per_rule: dict[str, int]
    open_runs: int


def retention_overview(
    *,
    session: Session,
    now: datetime,
    days: int = 365,
    runs: int = 10,
    sources: set[tuple[str, str]] | None = None,
) -> RetentionOverview:
    """Recent runs and the rows removed per rule in the last `days` days, of the (policy, source)
    pairs in `sources` (None: all)."""
    since = now - timedelta(days=days)
    per_rule: dict[str, int] = {}
    pairs = list(sources) if sources is not None else None
    log_stmt = select(DestructionLogEntry.rules, func.sum(DestructionLogEntry.rows)).where(
        DestructionLogEntry.status == "done", DestructionLogEntry.at >= since
    )
    open_stmt = select(func.count()).select_from(RetentionRun).where(RetentionRun.status.in_(UNFINISHED))
    runs_stmt = select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(runs)
    if pairs is not None:
        log_stmt = log_stmt.where(
            tuple_(DestructionLogEntry.policy_id, DestructionLogEntry.source_id).in_(pairs)
        )
        open_stmt = open_stmt.where(tuple_(RetentionRun.policy_id, RetentionRun.source_id).in_(pairs))
        runs_stmt = runs_stmt.where(tuple_(RetentionRun.policy_id, RetentionRun.source_id).in_(pairs))
    for rules, total in session.execute(log_stmt.group_by(DestructionLogEntry.rules)):
        for rule in str(rules).split(","):
            per_rule[rule] = per_rule.get(rule, 0) + int(total or 0)
    open_runs = int(session.scalar(open_stmt) or 0)
    return RetentionOverview(list(session.scalars(runs_stmt)), per_rule, open_runs)
