"""The policy's `web:` section: the website whose visitors Sargs serves (R-WEB-1..3).

Which controller runs the site, which origins may embed the cookie banner (CORS), which
consent purpose gates e-mail tracking, and how website access logs are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from sargs.domains.policy.problems import unknown
from sargs.domains.policy.text import Frozen

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class AccessLogs(Frozen):
    """Website access logs: the purpose they serve and the retention rule that ends them."""

    purpose: Slug
    retention_rule: Slug
    keep_network: bool = Field(
        default=False,
        description="Keep the visitor's network (ISP / autonomous system); allowed only when the "
        "purpose's data categories list it (`network_category`).",
    )
    network_category: Slug | None = Field(
        default=None, description="The data category that names the ISP (e.g. website-access-log)."
    )


# Google Consent Mode v2 consent types (developers.google.com/tag-platform/security/guides/consent).
ConsentType = Literal[
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
]
Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]


class RegionDefault(Frozen):
    """Consent types granted by default for visitors in some regions (ISO 3166-1 or 3166-2 codes)."""

    region: list[Region] = Field(min_length=1, description="e.g. [US] or [US-CA, CA-QC]")
    granted: list[ConsentType] = Field(default_factory=list)


class ConsentMode(Frozen):
    """What the banner tells Google and Microsoft tags (Consent Mode v2, UET consent).

    Every type is denied by default everywhere; `regions` may grant some by default in regions
    whose law allows it. A visitor's choice is sent as an update, types from the categories
    accepted (a category's `consent_types`)."""

    wait_for_update_ms: int = Field(default=500, ge=0, le=10_000)
    regions: list[RegionDefault] = Field(default_factory=list)


class WebSection(Frozen):
    controller: Slug
    allowed_origins: list[str] = Field(
        default_factory=list, description="Websites that may embed the cookie banner (exact origins)."
    )
    email_tracking_purpose: Slug | None = Field(
        default=None,
        description="The consent purpose under which opens, clicks and conversions of e-mails are recorded.",
    )
    access_logs: AccessLogs | None = None
    consent_mode: ConsentMode = ConsentMode()
    gpc_last_update: date | None = Field(
        default=None,
        description="The lastUpdate of the site's /.well-known/gpc.json (default: the policy's published date).",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        import re

        for origin in value:
            if not re.fullmatch(r"https?://[a-z0-9.-]+(:\d{1,5})?", origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.example.lv (no path)")
        return value


def web_problems(
    web: WebSection | None,
    *,
    controllers: set[str],
    purposes: Mapping[str, tuple[bool, list[str] | None, list[str]] | None],
    rules: Mapping[str, tuple[str, bool] | None],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Dangling references in the web section.

    purposes: id -> (needs consent, controllers or None for all, data categories);
    rules: id -> (purpose, has a period). None: declared, but the item is itself invalid.
    """
    if web is None:
        return []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if web.controller not in controllers:
        problems.append((("web", "controller"), unknown("controller", web.controller, controllers)))
    if web.email_tracking_purpose is not None:
        found = purposes.get(web.email_tracking_purpose)
        if web.email_tracking_purpose not in purposes:
            problems.append(
                (
                    ("web", "email_tracking_purpose"),
                    unknown("purpose", web.email_tracking_purpose, purposes),
                )
            )
        elif found is None:
            pass
        elif not found[0]:
            problems.append((("web", "email_tracking_purpose"), "e-mail tracking must rest on consent"))
        elif found[1] is not None and web.controller not in found[1]:
            problems.append(
                (
                    ("web", "email_tracking_purpose"),
                    f"controller {web.controller!r} does not pursue this purpose",
                )
            )
    logs = web.access_logs
    if logs is not None:
        found = purposes.get(logs.purpose)
        if logs.purpose not in purposes:
            problems.append((("web", "access_logs", "purpose"), unknown("purpose", logs.purpose, purposes)))
        rule = rules.get(logs.retention_rule)
        if logs.retention_rule not in rules:
            problems.append(
                (
                    ("web", "access_logs", "retention_rule"),
                    unknown("retention rule", logs.retention_rule, rules),
                )
            )
        elif rule is None:
            pass
        elif rule[0] != logs.purpose:
            problems.append(
                (
                    ("web", "access_logs", "retention_rule"),
                    f"the rule is for purpose {rule[0]!r}, not {logs.purpose!r}",
                )
            )
        elif not rule[1]:
            problems.append(
                (("web", "access_logs", "retention_rule"), "access logs need a rule with a period")
            )
        if logs.keep_network:
            if logs.network_category is None:
                problems.append(
                    (
                        ("web", "access_logs", "network_category"),
                        "keep_network needs the category that lists it",
                    )
                )
            elif found is not None and logs.network_category not in found[2]:
                problems.append(
                    (
                        ("web", "access_logs", "network_category"),
                        f"purpose {logs.purpose!r} does not list category {logs.network_category!r}",
                    )
                )
    return problems
