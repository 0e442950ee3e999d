"""Cookie consent by category (R-WEB-1): what the banner shows, and each choice kept as proof.

A choice is one append-only row: the visitor id the banner made (random, kept in the visitor's
browser), the categories accepted and refused, the policy version shown, whether Global Privacy
Control was on, and a receipt digest. Required categories are always accepted; with GPC on,
marketing categories are refused whatever was ticked.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sargs.core.db import table
from sargs.core.errors import InvalidInput
from sargs.core.i18n import Texts
from sargs.core.ids import new_id
from sargs.domains.policy.registry import PolicyRegistry
from sargs.domains.policy.schema import CookieCategory, Policy
from sargs.domains.web.consent_mode import consent_mode, consent_types
from sargs.domains.web.model import CookieConsent

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
DPV = "https://w3id.org/dpv#"
MARKETING_DPV = {
    DPV + name
    for name in (
        "Marketing",
        "DirectMarketing",
        "Advertising",
        "PersonalisedAdvertising",
        "TargetedAdvertising",
        "SocialMediaMarketing",
    )
}
INSERT = insert(table(CookieConsent))

# The banner's own words (its categories come from the policy).
BANNER_TEXT = Texts("web.cookies.BANNER_TEXT")


def is_marketing(category: CookieCategory) -> bool:
    """Marketing (targeting, advertising) categories: the ones Global Privacy Control refuses."""
    return category.id == "marketing" or (category.dpv_purpose or "") in MARKETING_DPV


@dataclass(frozen=True)
class Banner:
    controller: str
    controller_name: str
    policy_id: str
    policy_version: str
    privacy_policy_url: str | None
    language: str
    categories: list[dict[str, Any]]
    text: dict[str, str]
    consent_mode: dict[str, Any]


def _policy(registry: PolicyRegistry, controller: str) -> Policy:
    policy = registry.policy_for(controller)
    if not policy.cookie_categories:
        raise InvalidInput(f"the policy of {controller!r} declares no cookie categories", field="controller")
    return policy


def banner_language(policy: Policy, page: str | None) -> str:
    """The banner's language: the page's (`lv-LV` reads as `lv`, `pt-BR` as itself or `pt`) when
    the banner has texts in it and the policy gives every cookie category in it; else the policy's
    default language (or, if even that is not given, the first such language). So a banner never
    mixes its own texts in one language with the policy's in another."""
    given = set(BANNER_TEXT)
    for c in policy.cookie_categories:
        given &= set(c.title.languages) & set(c.description.languages)
    default = policy.policy.default_language
    if page:
        tag = page.strip().replace("_", "-")
        primary, _, region = tag.partition("-")
        exact = f"{primary.lower()}-{region.upper()}" if region else primary.lower()
        for candidate in (exact, primary.lower()):
            if candidate in given:
                return candidate
    return default if default in given else next(x for x in BANNER_TEXT if x in given)


def banner_preset(*, registry: PolicyRegistry, controller: str) -> dict[str, Any]:
    """What the banner script of one website is served with built in (/api/v1/web/sargs-consent.js):
    its controller and Consent Mode settings, so its regional defaults go out before any tag."""
    return {"controller": controller, **consent_mode(_policy(registry, controller))}


def banner(*, registry: PolicyRegistry, controller: str, language: str | None) -> Banner:
    """The categories and texts the banner shows, in one language (`banner_language`)."""
    policy = _policy(registry, controller)
    language = banner_language(policy, language)
    company = registry.controller(controller)
    return Banner(
        controller=controller,
        controller_name=company.short_name,
        policy_id=policy.id,
        policy_version=policy.version,
        privacy_policy_url=company.privacy_policy_url or policy.policy.url,
        language=language,
        categories=[
            {
                "id": c.id,
                "title": c.title.get(language),
                "description": c.description.get(language),
                "required": c.required,
                "marketing": is_marketing(c),
                "consent_types": consent_types(c, marketing=is_marketing(c)),
            }
            for c in policy.cookie_categories
        ],
        text=dict(BANNER_TEXT[language]),
        consent_mode=consent_mode(policy),
    )


@dataclass(frozen=True)
class CookieChoice:
    id: str
    visitor_id: str
    controller: str
    policy_id: str
    policy_version: str
    accepted: list[str]
    refused: list[str]
    gpc: bool
    linked: bool
    recorded_at: datetime
    digest: str

    def receipt(self) -> dict[str, Any]:
        """What the visitor can keep as proof of the choice."""
        return {
            "receipt_id": self.id,
            "visitor_id": self.visitor_id,
            "controller": self.controller,
            "policy": {"id": self.policy_id, "version": self.policy_version},
            "accepted": self.accepted,
            "refused": self.refused,
            "global_privacy_control": self.gpc,
            "recorded_at": self.recorded_at.isoformat(),
            "digest": self.digest,
        }


def _digest(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_choice(
    *,
    session: Session,
    registry: PolicyRegistry,
    visitor_id: str,
    controller: str,
    accepted: list[str],
    gpc: bool,
    language: str,
    now: datetime,
    subject_id: str | None = None,
) -> CookieChoice:
    """Append one cookie choice; unknown categories are refused input, GPC refuses marketing."""
    if not VISITOR_ID.match(visitor_id):
        raise InvalidInput("visitor_id must be 16-64 characters of A-Z a-z 0-9 _ -", field="visitor_id")
    if language not in BANNER_TEXT:
        raise InvalidInput(f"language must be one of {', '.join(BANNER_TEXT)}", field="language")
    policy = _policy(registry, controller)
    known = {c.id: c for c in policy.cookie_categories}
    unknown = sorted(set(accepted) - set(known))
    if unknown:
        raise InvalidInput(
            f"unknown cookie categories {unknown} (known: {', '.join(known)})", field="accepted"
        )
    wanted = set(accepted)
    chosen = [
        c.id
        for c in policy.cookie_categories
        if c.required or (c.id in wanted and not (gpc and is_marketing(c)))
    ]
    refused = [c for c in known if c not in chosen]
    fields: dict[str, Any] = {
        "id": new_id(),
        "visitor_id": visitor_id,
        "subject_id": subject_id,
        "controller": controller,
        "policy_id": policy.id,
        "policy_version": policy.version,
        "accepted": chosen,
        "refused": refused,
        "gpc": gpc,
        "language": language,
        "recorded_at": now,
    }
    fields["digest"] = _digest(fields)
    session.execute(INSERT, fields)
    return CookieChoice(
        id=fields["id"],
        visitor_id=visitor_id,
        controller=controller,
        policy_id=policy.id,
        policy_version=policy.version,
        accepted=chosen,
        refused=refused,
        gpc=gpc,
        linked=subject_id is not None,
        recorded_at=now,
        digest=fields["digest"],
    )


def choices_of(*, session: Session, visitor_id: str, controller: str | None = None) -> list[CookieConsent]:
    """A visitor's choices, oldest first."""
    stmt = select(CookieConsent).where(CookieConsent.visitor_id == visitor_id)
    if controller is not None:
        stmt = stmt.where(CookieConsent.controller == controller)
    return list(session.scalars(stmt.order_by(CookieConsent.recorded_at)))
