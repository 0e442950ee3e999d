"""Client groups and identities from the organisation's own systems (issue 19, R-CON-3).

One mechanism serves the bulk import (`sargs subjects import`), the API (single changes and
batches) and the sync from a declared source (`sargs subjects sync`, the worker): each record
names a person by one or more identities and puts them in a client group at a controller.

- A record whose identities nobody holds creates a person with all of them; identities the person
  does not hold yet are added; identities held by two different people are an error for that
  record (nothing of it is written), as is an identity of the wrong form.
- Records are applied in batches, each batch one transaction: the identities of the whole batch
  are looked up in one query per kind, new people, identities and groups are inserted with one
  statement per table. A batch that meets a concurrent writer (e.g. an SMS from a new number
  creating that person) is applied again from a fresh read.
- Applying the same records again changes nothing (`GroupReport.changed` is 0).
- Moving a person out of a group that alone may give some consent lapses that consent
  (sargs.domains.consent.lapses); the person's row is locked first, as every consent writer does.
- A sync stamps `seen_at` on every member it sees and, once the whole source was read cleanly,
  moves every member of the group it did not see to the leave group, whoever put them there (the
  source defines the group; sargs.domains.subjects.sync): joins and leaves are both idempotent, and
  a crash before the end, a bad row or an empty read moves nobody out. Concurrent runs of one source are safe:
  a run only moves out members last seen before it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sargs.core.db import table
from sargs.core.errors import SargsError
from sargs.core.ids import new_id
from sargs.domains.consent.lapses import lapse_consents, lapsing_purposes
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity
from sargs.domains.subjects.records import Membership, parse_record

SUBJECTS = table(Subject)
IDENTITIES = table(SubjectIdentity)
GROUPS = table(SubjectGroup)
LOOKUP_CHUNK = 500
MAX_KEPT_ERRORS = 1000  # errors beyond this are counted, not kept (flat memory on a bad file)
UPDATE_GROUP = (
    update(GROUPS)
    .where(GROUPS.c.subject_id == bindparam("sid"), GROUPS.c.controller == bindparam("ctl"))
    .values(
        client_group=bindparam("grp"),
        updated_at=bindparam("now"),
        source=bindparam("src"),
        seen_at=bindparam("seen"),
    )
)
MARK_SEEN = (
    update(GROUPS)
    .where(GROUPS.c.subject_id == bindparam("sid"), GROUPS.c.controller == bindparam("ctl"))
    .values(source=bindparam("src"), seen_at=bindparam("seen"))
)


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class GroupReport:
    """What applying records did (or, in a dry run, would do)."""

    rows: int = 0
    created: int = 0  # people Sargs did not know
    joined: int = 0  # group set for the first time, or changed
    identities_added: int = 0
    unchanged: int = 0
    left: int = 0  # sync: members no longer in the source, moved to the leave group
    lapsed: int = 0  # consents that lapsed because their holder left the group that may give them
    kept: int = 0  # sync: records of people already in the group
    failed: int = 0
    leaves_held: str | None = None  # sync: why nobody was moved out this run (a partial or empty read)
    errors: list[RowError] = field(default_factory=list)
    changes: list[tuple[int, str, str]] = field(default_factory=list)  # (line, subject, controller), API

    @property
    def changed(self) -> int:
        return self.created + self.joined + self.identities_added + self.left

    def add(self, other: GroupReport) -> None:
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        room = MAX_KEPT_ERRORS - len(self.errors)
        self.errors.extend(other.errors[: max(room, 0)])

    def error(self, line: int, reason: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, reason))

    def summary(self) -> str:
        """One line of counts (never personal data)."""
        return (
            f"{self.rows} rows: {self.created} new people, {self.joined} group changes, "
            f"{self.identities_added} identities added, {self.left} left, {self.lapsed} consents lapsed, "
            f"{self.unchanged} unchanged, {self.failed} failed"
        ) + (f"; leaves held: {self.leaves_held}" if self.leaves_held else "")


# --- applying one batch ------------------------------------------------------------------------


def _owners(session: Session, identities: Iterable[Identity]) -> dict[Identity, str]:
    by_kind: dict[str, set[str]] = {}
    for ident in identities:
        by_kind.setdefault(ident.kind, set()).add(ident.value)
    owners: dict[Identity, str] = {}
    for kind, values in by_kind.items():
        ordered = sorted(values)
        for i in range(0, len(ordered), LOOKUP_CHUNK):
            rows = session.execute(
                select(IDENTITIES.c.value, IDENTITIES.c.subject_id).where(
                    IDENTITIES.c.kind == kind, IDENTITIES.c.value.in_(ordered[i : i + LOOKUP_CHUNK])
                )
            )
            for value, subject_id in rows:
                owners[Identity(kind, value)] = subject_id  # type: ignore[arg-type]
    return owners


def _current_groups(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    wanted = set(keys)
    subjects = sorted({sid for sid, _ in wanted})
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for i in range(0, len(subjects), LOOKUP_CHUNK):  # by the primary key's first column
        rows = session.execute(
            select(GROUPS.c.subject_id, GROUPS.c.controller, GROUPS.c.client_group, GROUPS.c.source).where(
                GROUPS.c.subject_id.in_(subjects[i : i + LOOKUP_CHUNK])
            )
        )
        for sid, ctl, grp, src in rows:
            if (sid, ctl) in wanted:
                out[(sid, ctl)] = (grp, src)
    return out


def _insert_many(session: Session, into: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany (psycopg pipelines it; measured faster here than multi-row VALUES pages)."""
    session.execute(insert(into), rows)


def _analyze_if_grown(session: Session, created: int, analyzed: list[int]) -> None:
    """PostgreSQL: refresh the planner's statistics once the people imported so far doubled.

    A bulk import into a young table outruns autovacuum: the planner still believes the table is
    tiny and looks identities up by kind alone, scanning every phone number for each batch.
    """
    if session.get_bind().dialect.name != "postgresql" or created < 2 * max(analyzed[0], 2500):
        return
    for name in ("subjects", "subject_identities", "subject_groups"):
        session.execute(text(f"ANALYZE {name}"))
    analyzed[0] = created


def apply_batch(
    *,
    session: Session,
    registry: PolicyRegistry,
    items: Sequence[Membership],
    now: datetime,
    by: str,
    seen: bool = False,
) -> GroupReport:
    """Apply one batch of memberships in the session's transaction (see the module docstring).

    `by` is recorded as the group's source ("import", "api", "sync:<policy>/<source>"); with `seen`
    (a sync) every member's `seen_at` becomes `now`.
    """
    report = GroupReport(rows=len(items))
    owners = _owners(session, (i for m in items for i in m.identities))
    current = _current_groups(
        session, ((sid, m.controller) for m in items for sid in {owners.get(i) for i in m.identities} if sid)
    )
    new_subjects: list[dict[str, Any]] = []
    new_identities: list[dict[str, Any]] = []
    new_groups: dict[tuple[str, str], dict[str, Any]] = {}
    changed_groups: dict[tuple[str, str], dict[str, Any]] = {}
    seen_groups: dict[tuple[str, str], dict[str, Any]] = {}
    moves: dict[tuple[str, str], tuple[str, str]] = {}  # (subject, controller) -> (first old, latest new)
    stamp = now if seen else None
    for m in items:
        holders = {owners[i] for i in m.identities if i in owners}
        if len(holders) > 1:
            masked = ", ".join(i.masked() for i in m.identities)
            report.error(m.line, f"these identities belong to different people: {masked}")
            continue
        changed = False
        existing = bool(holders)
        if existing:
            sid = holders.pop()
        else:
            sid = new_id()
            new_subjects.append({"id": sid, "created_at": now, "chain_length": 0})
            report.created += 1
            changed = True
        for ident in m.identities:
            if ident not in owners:
                owners[ident] = sid
                new_identities.append(
                    {
                        "subject_id": sid,
                        "kind": ident.kind,
                        "value": ident.value,
                        "verified": False,
                        "created_at": now,
                    }
                )
                if existing:  # a known person gets another identity
                    report.identities_added += 1
                    changed = True
        key = (sid, m.controller)
        row = {"sid": sid, "ctl": m.controller, "grp": m.group, "now": now, "src": by, "seen": stamp}
        before = current.get(key)
        if before is not None and before[0] == m.group:
            report.kept += 1
        if before is None:
            new_groups[key] = row
            report.joined += 1
            changed = True
            default = registry.policy_for(m.controller).default_client_group
            if lapsing_purposes(registry=registry, controller=m.controller, old=default, new=m.group):
                moves.setdefault(key, (default, m.group))
        elif before[0] != m.group:
            if key in new_groups:
                new_groups[key] = row
            else:
                changed_groups[key] = row
            moves[key] = (moves.get(key, before)[0], m.group)
            report.joined += 1
            changed = True
        elif seen or before[1] != by:
            if key not in new_groups and key not in changed_groups:
                seen_groups[key] = row
            else:
                (new_groups if key in new_groups else changed_groups)[key] = row
        current[key] = (m.group, by)
        if changed:
            report.changes.append((m.line, sid, m.controller))
        else:
            report.unchanged += 1
    moving = sorted({sid for (sid, _), (old, new) in moves.items() if old != new})
    if moving:  # consent writers lock the person first; so does a group change that may lapse consents
        for i in range(0, len(moving), LOOKUP_CHUNK):
            session.execute(
                select(SUBJECTS.c.id)
                .where(SUBJECTS.c.id.in_(moving[i : i + LOOKUP_CHUNK]))
                .order_by(SUBJECTS.c.id)
                .with_for_update()
            ).all()
    if new_subjects:
        _insert_many(session, SUBJECTS, new_subjects)
    if new_identities:
        _insert_many(session, IDENTITIES, new_identities)
    if new_groups:
        _insert_many(
            session,
            GROUPS,
            [
                {
                    "subject_id": r["sid"],
                    "controller": r["ctl"],
                    "client_group": r["grp"],
                    "updated_at": now,
                    "source": r["src"],
                    "seen_at": r["seen"],
                }
                for r in new_groups.values()
            ],
        )
    if changed_groups:
        session.execute(
            UPDATE_GROUP, list(changed_groups.values()), execution_options={"synchronize_session": False}
        )
    if seen_groups:
        session.execute(
            MARK_SEEN,
            [
                {"sid": r["sid"], "ctl": r["ctl"], "src": r["src"], "seen": r["seen"]}
                for r in seen_groups.values()
            ],
            execution_options={"synchronize_session": False},
        )
    for (sid, ctl), (old, new) in sorted(moves.items()):
        report.lapsed += len(
            lapse_consents(
                session=session,
                registry=registry,
                subject_id=sid,
                controller=ctl,
                old=old,
                new=new,
                by=by,
                now=now,
            )
        )
    return report


# --- streams of records ------------------------------------------------------------------------

Records = Iterable[tuple[int, Mapping[str, Any] | SargsError]]


def apply_records(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    records: Records,
    clock: Callable[[], datetime],
    by: str,
    region: str,
    controller: str | None = None,
    batch_size: int = 2000,
    dry_run: bool = False,
    seen_at: datetime | None = None,
    on_error: Callable[[RowError], None] | None = None,
    on_batch: Callable[[GroupReport], None] | None = None,
) -> GroupReport:
    """Parse and apply a stream of (line, record) in batches, one transaction each.

    A record that cannot be read may arrive as the error itself. Bad records are reported (and
    passed to `on_error` as they come) and the rest land. `dry_run`: each batch is rolled back.
    `seen_at` (a sync): members are stamped seen at this time.
    """
    total = GroupReport()
    analyzed = [0]  # people created when the statistics were last refreshed

    def flush(batch: list[Membership], rows: int) -> None:
        part = _run_batch(
            sessions=sessions,
            registry=registry,
            batch=batch,
            clock=clock,
            by=by,
            dry_run=dry_run,
            seen_at=seen_at,
        )
        part.rows = rows
        total.add(part)
        if part.created and not dry_run:
            with sessions.begin() as session:
                _analyze_if_grown(session, total.created, analyzed)
        if on_error is not None:
            for e in part.errors:
                on_error(e)
        if on_batch is not None:
            on_batch(total)

    batch: list[Membership] = []
    rows = 0
    for line, record in records:
        rows += 1
        try:
            if isinstance(record, SargsError):
                raise record
            batch.extend(
                parse_record(record, line=line, registry=registry, region=region, controller=controller)
            )
        except SargsError as exc:
            bad = GroupReport(rows=0)
            bad.error(line, exc.message)
            total.add(bad)
            if on_error is not None:
                on_error(bad.errors[0])
        if len(batch) >= batch_size:
            flush(batch, rows)
            batch, rows = [], 0
    if batch or rows:
        flush(batch, rows)
    return total


def _run_batch(
    *,
    sessions: sessionmaker[Session],
    registry: PolicyRegistry,
    batch: list[Membership],
    clock: Callable[[], datetime],
    by: str,
    dry_run: bool,
    seen_at: datetime | None,
) -> GroupReport:
    if not batch:
        return GroupReport()
    for attempt in (1, 2):
        session = sessions()
        try:
            session.begin()
            now = clock()
            part = apply_batch(
                session=session,
                registry=registry,
                items=batch,
                now=seen_at or now,
                by=by,
                seen=seen_at is not None,
            )
            if dry_run:
                session.rollback()
            else:
                session.commit()
            part.changes.clear()
            return part
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
        finally:
            session.close()
    raise AssertionError("unreachable")
