"""Consent receipts: a JSON-LD ISO/IEC TS 27560 receipt (DPVCG's DPV-27560 schema), which also
carries the Kantara Consent Receipt v1.1 fields.

The document is a `dpv:ConsentReceipt` (`dct:conformsTo` dpv-27560#receipt) wrapping one
`dpv:ConsentRecord` (dpv-27560#record), as in DPVCG's guide "Consent Records and Receipts as per
ISO/IEC TS 27560:2023 using DPV" (https://w3id.org/dpv/guides/consent-27560). Its `@context` is
inline, so a JSON-LD processor expands it without fetching anything. The Kantara v1.1 fields
(`consentReceiptID`, `piiControllers`, `services`, …) stay at the top for their readers; they are
not in the context, so JSON-LD processing leaves them out. What DPV has no term for — the ledger
event behind the receipt (action, channel, actor, evidence, its place in the hash chain) — uses
Sargs' own terms under `urn:sargs:` (not dereferenceable).

The receipt names the subject only by its pseudonymous id, so it can be shown, downloaded
or archived without exposing a phone number or e-mail address.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sargs.core.i18n import Message
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.policy.schema import DPV, Controller, Policy

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
DPV_27560 = "https://w3id.org/dpv/schema/dpv-27560#"
LOC = "https://w3id.org/dpv/loc#"
SARGS = "urn:sargs:"
# Properties whose string values are IRIs (compact, e.g. "dpv:Consent", or full).
_IRI_VALUED = (
    "dct:conformsTo",
    "dpv:hasPurpose",
    "dpv:hasLegalBasis",
    "dpv:hasJurisdiction",
    "skos:broader",
)
RECEIPT_CONTEXT: dict[str, Any] = {
    "dpv": DPV,
    "pd": "https://w3id.org/dpv/pd#",
    "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
    "loc": LOC,
    "dpv-27560": DPV_27560,
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "https://schema.org/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sargs": SARGS,
    **{term: {"@type": "@id"} for term in _IRI_VALUED},
    "dct:created": {"@type": "xsd:dateTime"},
    "dpv:isIndicatedAtTime": {"@type": "xsd:dateTime"},
    "sargs:recordedAt": {"@type": "xsd:dateTime"},
    "sargs:evidence": {"@type": "@json"},
}


def receipt_controller(receipt: Mapping[str, Any]) -> str:
    """The policy id of the controller whose receipt this is (whose key signs it)."""
    return str(receipt["dpv:hasRecordOfActivity"]["dpv:hasDataController"]["dct:identifier"])


def _record_id(event_id: str) -> str:
    """The record's IRI: the event id as a UUID URN (ids are uuid4 hex), else a Sargs URN."""
    try:
        return f"urn:uuid:{uuid.UUID(hex=event_id)}"
    except ValueError:
        return f"{SARGS}consent-event:{event_id}"


def _controller_node(controller: Controller) -> dict[str, Any]:
    contact = controller.contact
    node: dict[str, Any] = {
        "@id": f"{SARGS}controller:{controller.id}",
        "@type": "dpv:DataController",
        "dct:identifier": controller.id,
        "schema:name": controller.legal_name,
        "schema:taxID": controller.registration_number,
        "schema:address": controller.address,
    }
    extra = {"schema:email": contact.email, "schema:telephone": contact.phone, "schema:url": contact.url}
    return {k: v for k, v in node.items() if v is not None} | {k: v for k, v in extra.items() if v}


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
    record_id = _record_id(event.id)
    controller_node = _controller_node(controller)
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
        "@context": RECEIPT_CONTEXT,
        "@id": f"{record_id}#receipt",
        "@type": "dpv:ConsentReceipt",
        "dct:identifier": event.id,
        "dct:conformsTo": DPV_27560 + "receipt",
        "dct:created": event.recorded_at.isoformat(),
        "dct:publisher": {"@id": controller_node["@id"]},
        "dpv:hasRecordOfActivity": {
            "@id": record_id,
            "@type": "dpv:ConsentRecord",
            "dct:identifier": event.id,
            "dct:conformsTo": DPV_27560 + "record",
            "dpv:hasDataSubject": {
                "@id": f"{SARGS}subject:{event.subject_id}",
                "@type": "dpv:DataSubject",
                "dct:identifier": event.subject_id,
            },
            "dpv:hasDataController": controller_node,
            "dpv:hasJurisdiction": LOC + controller.country,
            "dpv:hasLegalBasis": purpose.legal_basis_iri,
            "dpv:hasProcess": {
                "@type": "dpv:Process",
                "dpv:hasService": purpose.title.get(language),
                "dpv:hasPurpose": purpose.dpv_purpose,
                "dpv:hasPersonalData": [
                    {
                        "@type": "dpv:PersonalData",
                        "dct:identifier": c,
                        "dct:title": categories[c].title.get(language),
                        **(
                            {"skos:broader": categories[c].dpv_category} if categories[c].dpv_category else {}
                        ),
                    }
                    for c in purpose.data_categories
                    if c in categories
                ],
                "dpv:hasRecipient": [
                    {"@type": "dpv:DataProcessor", "dct:identifier": p.id, "schema:name": p.name}
                    for p in processors
                ],
            },
            "dpv:hasNotice": {
                **({"@id": policy.policy.url} if policy.policy.url else {}),
                "@type": "dpv:ConsentNotice",
                "dct:identifier": event.policy_id,
                "schema:version": event.policy_version,
                "dct:language": language,
            },
            "dpv:hasConsentStatus": {
                "@type": DPV_STATUS[event.action],
                "dpv:isIndicatedAtTime": event.occurred_at.isoformat(),
                "dpv:hasIndicationMethod": CHANNEL_METHOD.get(event.channel, event.channel),
                "dpv:isIndicatedBy": {
                    "@type": "dpv:DataSubject" if event.actor_type == "subject" else "sargs:Actor",
                    "sargs:actorType": event.actor_type,
                    **({"dct:identifier": event.actor_id} if event.actor_id else {}),
                },
            },
            "sargs:event": {
                "sargs:action": event.action,
                "sargs:channel": event.channel,
                "sargs:recordedAt": event.recorded_at.isoformat(),
                "sargs:evidence": event.evidence,
                "sargs:chainSeq": event.chain_seq,
                "sargs:hash": event.hash,
                "sargs:prevHash": event.prev_hash,
            },
        },
    }
