"""Legal holds (R-RET-2): a hold on a person (by identity) or on a declared table keeps its rows
from every retention run until it is released or ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sargs.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sargs.core.ids import new_id
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.retention.coverage import retained_sources
from sargs.domains.retention.model import RetentionHold
from sargs.domains.subjects.identifiers import Identity


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
