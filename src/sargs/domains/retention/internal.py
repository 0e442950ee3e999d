"""Sargs' own tables that expire, purged by the same runs and shown in the same plan and log.

A store names the rule it follows: a rule of a loaded policy (e.g. the telecom `website-logs`,
registered by the web access log), or its own fixed period for housekeeping data no policy names
(used sign-in codes, ended web sessions). Each purge is a bounded DELETE in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from sargs.domains.access.model import WebSession
from sargs.domains.policy.schema import Duration
from sargs.domains.portal.model import OneTimeCode

INTERNAL_SOURCE = "sargs"


@dataclass(frozen=True)
class InternalStore:
    """One of Sargs' own tables: how many rows expired before a cutoff, and purge up to `limit` of them."""

    name: str
    rule_id: str
    count_expired: Callable[[Session, datetime], int]
    purge_expired: Callable[[Session, datetime, int], int]
    period: Duration | None = None  # None: the period of the policy rule `rule_id`


_STORES: dict[str, InternalStore] = {}


def register_store(store: InternalStore) -> None:
    """Add (or replace) an internal store; later runs and plans include it."""
    _STORES[store.name] = store


def internal_stores() -> list[InternalStore]:
    """Every registered internal store, in registration order."""
    return list(_STORES.values())


def _count_codes(session: Session, before: datetime) -> int:
    return int(
        session.scalar(select(func.count()).select_from(OneTimeCode).where(OneTimeCode.expires_at <= before))
        or 0
    )


def _purge_codes(session: Session, before: datetime, limit: int) -> int:
    ids = select(OneTimeCode.id).where(OneTimeCode.expires_at <= before).limit(limit).scalar_subquery()
    return int(session.execute(delete(OneTimeCode).where(OneTimeCode.id.in_(ids))).rowcount)  # type: ignore[attr-defined]


def _sessions_over(before: datetime) -> object:
    return or_(WebSession.expires_at <= before, WebSession.ended_at <= before)


def _count_sessions(session: Session, before: datetime) -> int:
    stmt = select(func.count()).select_from(WebSession).where(_sessions_over(before))  # type: ignore[arg-type]
    return int(session.scalar(stmt) or 0)


def _purge_sessions(session: Session, before: datetime, limit: int) -> int:
    ids = select(WebSession.id).where(_sessions_over(before)).limit(limit).scalar_subquery()  # type: ignore[arg-type]
    return int(session.execute(delete(WebSession).where(WebSession.id.in_(ids))).rowcount)  # type: ignore[attr-defined]


# Codes live 10 minutes and count towards the one-hour send limit; a day later they serve nothing.
register_store(
    InternalStore(
        name="one_time_codes",
        rule_id="sargs-sign-in-codes",
        count_expired=_count_codes,
        purge_expired=_purge_codes,
        period=Duration(days=1),
    )
)
# A session that ended or expired a month ago is no longer needed to explain an access.
register_store(
    InternalStore(
        name="web_sessions",
        rule_id="sargs-web-sessions",
        count_expired=_count_sessions,
        purge_expired=_purge_sessions,
        period=Duration(days=30),
    )
)
