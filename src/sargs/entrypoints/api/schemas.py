"""API request and response models shared by several routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState


class EventRead(BaseModel):
    id: str
    subject_id: str
    controller: str
    purpose: str
    action: str
    channel: str
    actor_type: str
    actor_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    policy_id: str
    policy_version: str
    evidence: dict[str, Any]
    idempotency_key: str | None
    chain_seq: int
    hash: str

    @classmethod
    def of(cls, e: ConsentEvent) -> EventRead:
        return cls.model_validate(e, from_attributes=True)


class StateRead(BaseModel):
    controller: str
    purpose: str
    status: str
    allowed: bool
    since: datetime
    event_id: str
    channel: str

    @classmethod
    def of(cls, s: ConsentState) -> StateRead:
        return cls(
            controller=s.controller,
            purpose=s.purpose,
            status=s.status,
            allowed=s.status == "granted",
            since=s.since,
            event_id=s.event_id,
            channel=s.channel,
        )


class RejectionRead(BaseModel):
    id: str
    controller: str
    purpose: str
    action: str
    channel: str
    reason: str
    message: str
    occurred_at: datetime

    @classmethod
    def of(cls, r: ConsentRejection) -> RejectionRead:
        return cls.model_validate(r, from_attributes=True)
