"""Syncing a client group from a declared source (policy `client_group_sources`, issue 19).

The source defines the group: its rows are the group's members, whoever put a person in it before
(an import, the API). A run stamps every member it reads as seen at the run's start
(sargs.domains.subjects.groups.apply_records), then moves every member of the group at that
controller that no run has seen since it started to the leave group (`apply_leaves`); consents only the group may give lapse
(sargs.domains.consent.lapses). Reading is streamed and each batch is its own transaction, so
memory stays flat and a crash loses at most the batch in flight: the next run starts over, and
nobody is moved out by a run that did not read the whole source.

A read that may be incomplete moves nobody out either (`leaves_held` says why): a run with bad
rows (the person on a bad row is not stamped, and must not lapse for a typo in the billing
system), and a source that returned no rows at all while the group has members (an emptied table,
a wrong filter or view would otherwise move every client out and lapse their consents). Fix the
source and the next run applies the leaves.

Two runs of one source at once (the worker and `sargs subjects sync`) are safe: a run only moves
out members last seen before it started, and every join and leave is idempotent. The worker runs
each source's job under the job's own lease (sargs.domains.jobs.periodic), so workers never overlap.

A dry run rolls every batch back. It cannot stamp, so the members who would leave are estimated as
the group's members minus the ones the run read (exact unless the source lists a person
twice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.errors import SargsError
from sargs.domains.consent.lapses import lapse_consents
from sargs.domains.policy.clients import ClientGroupSource
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Policy
from sargs.domains.subjects.groups import GroupReport, apply_records
from sargs.domains.subjects.model import Subject, SubjectGroup

SUBJECTS = table(Subject)
GROUPS = table(SubjectGroup)

# Reads one source's rows: dicts of identity kind -> raw value, streamed (closing it ends the read).
ClientRows = Callable[[ClientGroupSource], Iterator[Mapping[str, Any]]]


def sync_key(policy_id: str, source_id: str) -> str:
    """The `source` a sync writes on the groups it sets."""
    return f"sync:{policy_id}/{source_id}"


def declared_sources(registry: PolicyRegistry) -> list[tuple[Policy, ClientGroupSource]]:
    return [(p, s) for p in registry.policies for s in p.client_group_sources]


def find_source(registry: PolicyRegistry, source_id: str) -> tuple[Policy, ClientGroupSource]:
    from sargs.core.errors import InvalidInput

    for policy, source in declared_sources(registry):
        if source.id == source_id or f"{policy.id}/{source.id}" == source_id:
            return policy, source
    known = ", ".join(f"{p.id}/{s.id}" for p, s in declared_sources(registry)) or "none declared"
    raise InvalidInput(f"no client-group source {source_id!r} (known: {known})", field="source")


def sync_source(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    policy: Policy,
    source: ClientGroupSource,
    rows: Iterable[Mapping[str, Any] | SargsError],
    clock: Callable[[], datetime],
    region: str,
    dry_run: bool = False,
    batch_size: int = 2000,
    on_batch: Callable[[GroupReport], None] | None = None,
) -> GroupReport:
    """Apply one full read of `source`: joins for every row, then leaves (see the module docstring)."""
    by = sync_key(policy.id, source.id)
    leave = source.leave_group or policy.default_client_group
    started = clock()

    def records() -> Iterator[tuple[int, Mapping[str, Any] | SargsError]]:
        for number, row in enumerate(rows, start=1):
            if isinstance(row, SargsError):
                yield number, row
            else:
                yield number, {**row, "controller": source.controller, "client_group": source.group}

    report = apply_records(
        sessions=sessions,
        registry=registry,
        records=records(),
        clock=clock,
        by=by,
        region=region,
        batch_size=batch_size,
        dry_run=dry_run,
        seen_at=started,
        on_batch=on_batch,
    )
    with sessions() as session:
        members = int(
            session.scalar(
                select(func.count())
                .select_from(GROUPS)
                .where(
                    GROUPS.c.controller == source.controller,
                    GROUPS.c.client_group == source.group,
                )
            )
            or 0
        )
    if report.failed:
        report.leaves_held = (
            f"{report.failed} row(s) could not be applied; nobody was moved out of {source.group!r} "
            "(fix the rows and run again)"
        )
        return report
    if report.rows == 0 and members:
        report.leaves_held = (
            f"the source returned no rows while {members} people are in {source.group!r}; nobody was "
            "moved out (check the table, its filter and the source URL)"
        )
        return report
    if dry_run:
        report.left = max(members - report.kept, 0)
        return report
    leaves = apply_leaves(
        sessions=sessions,
        registry=registry,
        controller=source.controller,
        group=source.group,
        leave_group=leave,
        by=by,
        started=started,
        clock=clock,
        batch_size=batch_size,
    )
    report.left += leaves.left
    report.lapsed += leaves.lapsed
    return report


def apply_leaves(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    controller: str,
    group: str,
    leave_group: str,
    by: str,
    started: datetime,
    clock: Callable[[], datetime],
    batch_size: int = 2000,
) -> GroupReport:
    """Move the members of `group` at `controller` that no sync saw since `started` to `leave_group`,
    a batch per transaction (their consents `leave_group` may not give lapse)."""
    report = GroupReport()
    after = ""
    while True:
        session = sessions()
        try:
            session.begin()
            ids = list(
                session.scalars(
                    select(GROUPS.c.subject_id)
                    .where(
                        GROUPS.c.controller == controller,
                        GROUPS.c.client_group == group,
                        (GROUPS.c.seen_at < started) | GROUPS.c.seen_at.is_(None),
                        GROUPS.c.subject_id > after,
                    )
                    .order_by(GROUPS.c.subject_id)
                    .limit(batch_size)
                )
            )
            if not ids:
                session.rollback()
                return report
            after = ids[-1]
            now = clock()
            session.execute(
                select(SUBJECTS.c.id).where(SUBJECTS.c.id.in_(ids)).order_by(SUBJECTS.c.id).with_for_update()
            ).all()
            moved = (
                session.execute(
                    update(GROUPS)
                    .where(
                        GROUPS.c.subject_id.in_(ids),
                        GROUPS.c.controller == controller,
                        GROUPS.c.client_group == group,
                        (GROUPS.c.seen_at < started) | GROUPS.c.seen_at.is_(None),
                    )
                    .values(client_group=leave_group, updated_at=now, source=by)
                    .returning(GROUPS.c.subject_id)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            report.left += len(moved)
            for sid in sorted(moved):
                report.lapsed += len(
                    lapse_consents(
                        session=session,
                        registry=registry,
                        subject_id=sid,
                        controller=controller,
                        old=group,
                        new=leave_group,
                        by=by,
                        now=now,
                    )
                )
            session.commit()
        finally:
            session.close()
