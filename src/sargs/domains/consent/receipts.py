"""Consent receipts: Kantara Consent Receipt v1.1 shape, with ISO/IEC TS 27560 fields via DPV.

The receipt names the subject only by its pseudonymous id, so it can be shown, downloaded
or archived without exposing a phone number or e-mail address.
"""

from __future__ import annotations

from typing import Any

from sargs.core.i18n import Message
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.policy.schema import DPV, Policy

CHANNEL_METHOD = {
    "portal": "self-service portal",
    "sms": "SMS keyword to short number",
    "staff": "in person at a customer centre (recorded by staff)",
    "email_link": "link in an e-mail",
    "api": "integration API",
    "post": "paper form by post",
    "web": "website form",
}
DPV_STATUS = {
    "grant": DPV + "ConsentGiven",
    "withdraw": DPV + "ConsentWithdrawn",
    "refuse": DPV + "ConsentRefused",
}

TERMINATION = Message("consent.receipts", "TERMINATION")


def build_receipt(*, event: ConsentEvent, policy: Policy, language: str = "lv") -> dict[str, Any]:
    """A receipt for one ledger event, in the language asked for (lv or en)."""
    controller = policy.controller(event.controller)
    purpose = policy.purpose(event.controller, event.purpose)
    if controller is None or purpose is None:
        raise ValueError("event refers to a controller or purpose missing from its policy")
    categories = {c.id: c for c in policy.data_categories}
    processors = [
        p
        for p in policy.processors
        if (p.controllers is None or event.controller in p.controllers)
        and (not p.purposes or purpose.id in p.purposes)
    ]
    pii = [categories[c].title.get(language) for c in purpose.data_categories if c in categories]
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": controller.country,
        "consentTimestamp": int(event.occurred_at.timestamp()),
        "collectionMethod": CHANNEL_METHOD.get(event.channel, event.channel),
        "consentReceiptID": event.id,
        "language": language,
        "piiPrincipalId": event.subject_id,
        "piiControllers": [
            {
                "piiController": controller.legal_name,
                "onBehalf": False,
                "contact": controller.dpo.email
                if controller.dpo and controller.dpo.email
                else controller.contact.email,
                "address": controller.address,
                "email": controller.contact.email,
                "phone": controller.contact.phone,
                "piiControllerUrl": controller.contact.url,
            }
        ],
        "policyUrl": controller.privacy_policy_url or policy.policy.url,
        "services": [
            {
                "service": purpose.title.get(language),
                "purposes": [
                    {
                        "purpose": purpose.description.get(language),
                        "purposeCategory": [purpose.dpv_purpose],
                        "consentType": "EXPLICIT",
                        "piiCategory": pii,
                        "primaryPurpose": True,
                        "termination": TERMINATION.get(language, TERMINATION["lv"]),
                        "thirdPartyDisclosure": bool(processors),
                        "thirdPartyName": ", ".join(p.name for p in processors) or None,
                    }
                ],
            }
        ],
        "sensitive": any(categories[c].special for c in purpose.data_categories if c in categories),
        "spiCat": [
            categories[c].title.get(language)
            for c in purpose.data_categories
            if c in categories and categories[c].special
        ],
        "iso27560": {
            "schema_version": "ISO/IEC TS 27560:2023 (DPV serialisation)",
            "record_id": event.id,
            "data_subject": event.subject_id,
            "controller": {
                "id": controller.id,
                "name": controller.legal_name,
                "registration": controller.registration_number,
            },
            "notice": {
                "policy_id": event.policy_id,
                "policy_version": event.policy_version,
                "url": policy.policy.url,
            },
            "processing": {
                "purpose": purpose.dpv_purpose,
                "legal_basis": purpose.legal_basis_iri,
                "personal_data": [
                    categories[c].dpv_category or c for c in purpose.data_categories if c in categories
                ],
                "recipients": [p.name for p in processors],
            },
            "consent_status": DPV_STATUS[event.action],
            "event": {
                "action": event.action,
                "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.recorded_at.isoformat(),
                "channel": event.channel,
                "actor": {"type": event.actor_type, "id": event.actor_id},
                "evidence": event.evidence,
            },
            "ledger": {"chain_seq": event.chain_seq, "hash": event.hash, "prev_hash": event.prev_hash},
        },
    }
