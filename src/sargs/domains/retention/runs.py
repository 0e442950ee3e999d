"""Retention runs (R-RET-2).

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.errors import InvalidInput, SargsError
from sargs.core.ids import new_id
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.policy.sources import DataSource
from sargs.domains.retention.coverage import resolve_rules, retained_sources
from sargs.domains.retention.internal import INTERNAL_SOURCE, internal_stores, store_cutoff
from sargs.domains.retention.leases import LEASE, LeaseLost, lease_key, release_lease, renew_lease, take_lease
from sargs.domains.retention.model import UNFINISHED, DestructionLogEntry, RetentionRun
from sargs.domains.retention.ports import RetentionConnector, RetentionConnectorFactory

log = logging.getLogger(__name__)


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
    key, owner = lease_key(policy_id, source_id), secrets.token_hex(16)
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
        take_lease(session, key=key, run_id=run.id, owner=owner, now=now, lease=lease)
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
                release_lease(session, key=key, owner=owner)
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
                    renew_lease(session, key=key, owner=owner, now=clock(), lease=lease)
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
        before = store_cutoff(store, registry, clock())
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
                renew_lease(session, key=key, owner=owner, now=clock(), lease=lease)
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
