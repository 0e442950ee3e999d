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
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import Duration
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.retention.rules import cutoff
from sargs.domains.web import access_logs

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
# Stores that depend on the loaded policies (e.g. one web access log store per website section).
_PROVIDERS: list[Callable[[PolicyRegistry], list[InternalStore]]] = []


def register_store(store: InternalStore) -> None:
    """Add (or replace) an internal store; later runs and plans include it."""
    _STORES[store.name] = store


def register_provider(provider: Callable[[PolicyRegistry], list[InternalStore]]) -> None:
    """Add a function that names stores from the loaded policies; later runs and plans include them."""
    _PROVIDERS.append(provider)


def internal_stores(registry: PolicyRegistry | None = None) -> list[InternalStore]:
    """Every registered internal store, in registration order, then those the policies call for."""
    stores = list(_STORES.values())
    if registry is not None:
        for provider in _PROVIDERS:
            stores.extend(provider(registry))
    return stores


def store_cutoff(store: InternalStore, registry: PolicyRegistry, now: datetime) -> datetime | None:
    """The instant on or before which the store's rows expired at `now` (None: its rule has no period)."""
    if store.period is not None:
        return cutoff(store.period, now)
    for policy in registry.policies:
        for rule in policy.retention_rules:
            if rule.id == store.rule_id and rule.period is not None:
                return cutoff(rule.period, now)
    return None


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


def _access_log_stores(registry: PolicyRegistry) -> list[InternalStore]:
    """One store per policy whose `web.access_logs` names a retention rule with a period: that
    controller's website access log lines, kept for the rule's period from the request (R-WEB-3)."""
    stores = []
    for policy in registry.policies:
        logs = policy.web.access_logs if policy.web else None
        if policy.web is None or logs is None:
            continue
        rule = next((r for r in policy.retention_rules if r.id == logs.retention_rule), None)
        if rule is None or rule.period is None:
            continue
        controller = policy.web.controller

        def count(session: Session, before: datetime, c: str = controller) -> int:
            return access_logs.count_expired(session=session, before=before, controller=c)

        def purge(session: Session, before: datetime, limit: int, c: str = controller) -> int:
            return access_logs.purge_expired(session=session, before=before, limit=limit, controller=c)

        stores.append(
            InternalStore(
                name=f"web_access_log:{controller}",
                rule_id=rule.id,
                count_expired=count,
                purge_expired=purge,
                period=rule.period,
            )
        )
    return stores


register_provider(_access_log_stores)
