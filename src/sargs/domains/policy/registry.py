"""The policies a deployment runs, looked up by controller; publishing versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sargs.core.errors import InvalidInput, NotFound, PolicyError
from sargs.domains.policy.loader import content_hash
from sargs.domains.policy.model import PolicyVersion
from sargs.domains.policy.schema import Controller, Policy, Purpose


@dataclass(frozen=True)
class ReviewReminder:
    policy_id: str
    version: str
    published: date
    due: date
    overdue: bool


class PolicyRegistry:
    """Every loaded policy; controller ids are unique across them (R-POL-2)."""

    def __init__(self, policies: list[Policy]) -> None:
        self.policies = list(policies)
        self._by_controller: dict[str, Policy] = {}
        for policy in self.policies:
            for controller in policy.controllers:
                if controller.id in self._by_controller:
                    raise PolicyError(
                        f"controller {controller.id!r} is declared by both {self._by_controller[controller.id].id!r}"
                        f" and {policy.id!r}"
                    )
                self._by_controller[controller.id] = policy

    @property
    def controller_ids(self) -> list[str]:
        return list(self._by_controller)

    def policy_for(self, controller_id: str) -> Policy:
        """The policy declaring this controller; unknown ids are InvalidInput naming the known ones."""
        policy = self._by_controller.get(controller_id)
        if policy is None:
            known = ", ".join(sorted(self._by_controller)) or "none loaded"
            raise InvalidInput(f"unknown controller {controller_id!r} (known: {known})", field="controller")
        return policy

    def controller(self, controller_id: str) -> Controller:
        controller = self.policy_for(controller_id).controller(controller_id)
        assert controller is not None
        return controller

    def purpose(self, controller_id: str, purpose_id: str) -> Purpose:
        """A purpose of this controller; unknown ids are InvalidInput naming the known ones."""
        policy = self.policy_for(controller_id)
        purpose = policy.purpose(controller_id, purpose_id)
        if purpose is None:
            known = ", ".join(p.id for p in policy.purposes_of(controller_id))
            raise InvalidInput(
                f"controller {controller_id!r} has no purpose {purpose_id!r} (known: {known})",
                field="purpose",
            )
        return purpose

    def review_reminders(self, *, today: date) -> list[ReviewReminder]:
        """Policies due (or overdue) for their periodic review (R-POL-3, R 7.1)."""
        out = []
        for p in self.policies:
            months = p.policy.published.month - 1 + p.policy.review_interval_months
            year = p.policy.published.year + months // 12
            due = date(year, months % 12 + 1, min(p.policy.published.day, 28))
            out.append(ReviewReminder(p.id, p.version, p.policy.published, due, overdue=today >= due))
        return out


def publish(*, session: Session, policy: Policy, now: datetime) -> bool:
    """Record this version as published; True if new. Changing a published version is a PolicyError.
    Processes starting together may publish the same version at once: the second one's insert
    conflicts, and it then checks the row the first one wrote."""
    digest = content_hash(policy)
    existing = session.get(PolicyVersion, (policy.id, policy.version))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    PolicyVersion(
                        policy_id=policy.id,
                        version=policy.version,
                        content_sha256=digest,
                        published_at=now,
                        document=policy.model_dump(mode="json"),
                    )
                )
            return True
        except IntegrityError:
            existing = session.get(PolicyVersion, (policy.id, policy.version), populate_existing=True)
            if existing is None:
                raise
    if existing.content_sha256 != digest:
        raise PolicyError(
            f"policy {policy.id!r} version {policy.version!r} is already published with other content; "
            "a published version is immutable: give the changed policy a new `policy.version`"
        )
    return False


def published_version(*, session: Session, policy_id: str, version: str) -> PolicyVersion:
    row = session.get(PolicyVersion, (policy_id, version))
    if row is None:
        raise NotFound(f"policy {policy_id!r} version {version!r} was never published")
    return row


def policy_as_published(
    *, session: Session, registry: PolicyRegistry, policy_id: str, version: str
) -> Policy:
    """The policy exactly as it stood at `version` (events keep the version they were given under)."""
    for policy in registry.policies:
        if policy.id == policy_id and policy.version == version:
            return policy
    row = published_version(session=session, policy_id=policy_id, version=version)
    return Policy.model_validate(row.document)
