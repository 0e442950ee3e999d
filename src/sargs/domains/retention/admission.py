"""Before a retention run is queued for the worker: refuse at once what the run would fail on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sargs.core.errors import Conflict
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.retention.coverage import resolve_rules, retained_sources
from sargs.domains.retention.internal import INTERNAL_SOURCE
from sargs.domains.retention.model import RetentionLease
from sargs.domains.retention.ports import RetentionConnectorFactory


def check_runnable(
    *,
    session: Session,
    registry: PolicyRegistry,
    connectors: RetentionConnectorFactory,
    policy_id: str,
    source_id: str,
    now: datetime,
) -> None:
    """Raise what a run would stop on at once: an unknown source (InvalidInput), a source another
    run is working on (Conflict), a source whose database is not configured or cannot be reached
    (ConfigurationError)."""
    internal = source_id == INTERNAL_SOURCE
    key = f"{INTERNAL_SOURCE}/{INTERNAL_SOURCE}" if internal else f"{policy_id}/{source_id}"
    pairs = [] if internal else retained_sources(registry=registry, policy_id=policy_id, source_id=source_id)
    lease = session.get(RetentionLease, key)
    if lease is not None and lease.expires_at > now:
        raise Conflict(
            f"retention run {lease.run_id} is working on {key} (lease until {lease.expires_at:%H:%M:%S} UTC)"
        )
    if pairs:
        policy, source = pairs[0]
        connectors(resolve_rules(session=session, policy=policy, source=source, as_of=now, now=now)).close()
