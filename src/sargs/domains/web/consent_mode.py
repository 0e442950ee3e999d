"""Consent signals for tag managers (issue 17): Google Consent Mode v2 and Microsoft UET.

The banner script (static/sargs-consent.js) sets every consent type denied before any tag runs,
then sends an update with the types of the categories a visitor accepted. This module holds the
rules it is given: which consent types a cookie category grants, and the regional defaults. The
Global Privacy Control resource a website serves at /.well-known/gpc.json is here too.
"""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

from sargs.domains.policy.schema import CookieCategory, Policy
from sargs.domains.policy.web import ConsentType

CONSENT_TYPES: tuple[str, ...] = get_args(ConsentType)
ADS: tuple[str, ...] = ("ad_storage", "ad_user_data", "ad_personalization")
DPV = "https://w3id.org/dpv#"
ANALYTICS_DPV = {DPV + n for n in ("ServiceUsageAnalytics", "Analytics", "WebAnalytics")}


def consent_types(category: CookieCategory, *, marketing: bool) -> list[str]:
    """The consent types a category grants: as the policy declares, else from what it is.

    Required (necessary) cookies: functionality and security storage; marketing: the three
    advertising types; analytics: analytics storage; any other category: functionality and
    personalisation storage."""
    if category.consent_types is not None:
        return list(category.consent_types)
    if category.required:
        return ["functionality_storage", "security_storage"]
    if marketing:
        return list(ADS)
    if category.id in ("analytics", "statistics") or (category.dpv_purpose or "") in ANALYTICS_DPV:
        return ["analytics_storage"]
    return ["functionality_storage", "personalization_storage"]


def consent_mode(policy: Policy) -> dict[str, Any]:
    """The banner's Consent Mode settings: the wait for an update and the regional defaults."""
    mode = policy.web.consent_mode if policy.web else None
    return {
        "wait_for_update_ms": mode.wait_for_update_ms if mode else 500,
        "regions": [
            {"region": list(r.region), "granted": list(r.granted)} for r in (mode.regions if mode else [])
        ],
    }


def gpc_last_update(policy: Policy) -> date:
    """The date a website's GPC support last changed: the policy's `web.gpc_last_update`, else
    the date the policy was published."""
    if policy.web and policy.web.gpc_last_update:
        return policy.web.gpc_last_update
    return policy.policy.published


def gpc_resource(policy: Policy) -> dict[str, Any]:
    """The body of /.well-known/gpc.json (GPC specification, section 3.5)."""
    return {"gpc": True, "lastUpdate": gpc_last_update(policy).isoformat()}


def website_policy(policies: list[Policy], *, host: str, controller: str | None = None) -> Policy | None:
    """The policy of the website at `host` (an allowed origin's host[:port]) or of `controller`.

    None when neither names one: then the caller is Sargs' own origin, which serves the banner of
    every website it hosts."""
    sites = [p for p in policies if p.web is not None]
    if controller is not None:
        return next((p for p in sites if p.web and p.web.controller == controller), None)
    host = host.lower()
    for policy in sites:
        assert policy.web is not None
        for origin in policy.web.allowed_origins:
            if origin.split("://", 1)[1] == host:
                return policy
    return None


def gpc_for(policies: list[Policy], *, host: str, controller: str | None = None) -> dict[str, Any] | None:
    """/.well-known/gpc.json for a website; on Sargs' own origin the latest date of all websites.
    None when no loaded policy has a website (or `controller` has none)."""
    policy = website_policy(policies, host=host, controller=controller)
    if policy is not None:
        return gpc_resource(policy)
    if controller is not None:
        return None
    dates = [gpc_last_update(p) for p in policies if p.web is not None]
    return {"gpc": True, "lastUpdate": max(dates).isoformat()} if dates else None
