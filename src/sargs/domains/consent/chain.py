"""The hash chain over consent events: pure functions, no database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

CHAINED_FIELDS = (
    "id",
    "subject_id",
    "chain_seq",
    "controller",
    "purpose",
    "action",
    "channel",
    "actor_type",
    "actor_id",
    "occurred_at",
    "recorded_at",
    "policy_id",
    "policy_version",
    "evidence",
    "idempotency_key",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def event_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an event's chained fields (prev_hash included)."""
    doc = {name: _canonical(fields.get(name)) for name in CHAINED_FIELDS}
    payload = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
