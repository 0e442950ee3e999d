"""The notification to the supervisory authority (Art. 33(3)) as JSON and as a document, lv/en."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sargs.core.i18n import LANGUAGES, Texts
from sargs.domains.breaches.service import BreachView
from sargs.domains.documents.model import Block, Document, Heading, KeyValues, Paragraph, Table
from sargs.domains.policy.schema import Contact, Controller, Policy

FORMAT = "sargs.breach-notification/1"

LABELS = Texts("breaches.notification.LABELS")
GROUND_LETTERS = {"protected_data": "(a)", "risk_removed": "(b)", "disproportionate_effort": "(c)"}


def _contact(contact: Contact | None) -> dict[str, str | None]:
    c = contact or Contact()
    return {"email": c.email, "phone": c.phone, "url": c.url, "address": c.address}


def contact_point(controller: Controller) -> dict[str, str | None]:
    """The data protection officer's contact when the policy names one, else the controller's."""
    if controller.dpo is not None:
        return {"role": "dpo", **_contact(controller.dpo)}
    return {"role": "controller", **_contact(controller.contact)}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def subjects_status(breach: BreachView) -> str:
    if breach.risk != "high":
        return "not_required"
    if breach.exemption_ground:
        return "exempt"
    return "notified" if breach.subjects_notified else "pending"


def authority_notification(
    *, breach: BreachView, policy: Policy, language: str, now: datetime, phase: str | None = None
) -> dict[str, Any]:
    """Every field the authority asks for (Art. 33(3)(a)-(d) and 33(1) delay reasons), JSON-safe."""
    lang = language if language in LANGUAGES else "lv"
    controller = policy.controller(breach.controller)
    assert controller is not None
    categories = {c.id: c.title.get(lang) for c in policy.data_categories}
    groups = {g.id: g.title.get(lang) for g in policy.client_groups}
    authority = policy.supervisory_authority
    return {
        "format": FORMAT,
        "language": lang,
        "generated_at": now.isoformat(),
        "phase": phase or (breach.notifications[-1].phase if breach.notifications else "draft"),
        "authority": {
            "name": authority.name.get(lang),
            "address": authority.address,
            "email": authority.email,
            "phone": authority.phone,
            "url": authority.url,
        },
        "controller": {
            "id": controller.id,
            "legal_name": controller.legal_name,
            "registration_number": controller.registration_number,
            "address": controller.address,
            "country": controller.country,
        },
        "contact_point": contact_point(controller),
        "breach": {
            "reference": breach.id,
            "title": breach.title,
            "status": breach.status,
            "occurred_at": _iso(breach.occurred_at),
            "aware_at": _iso(breach.aware_at),
            "notification_deadline": _iso(breach.clock.due_at),
            "deadline_hours": policy.deadlines.breach_notification_hours,
            "nature": breach.nature,
            "breach_types": breach.breach_types,
            "data_categories": [{"id": c, "title": categories.get(c, c)} for c in breach.data_categories],
            "subject_categories": [{"id": g, "title": groups.get(g, g)} for g in breach.subject_categories],
            "approximate_number_of_subjects": breach.approx_subjects,
            "approximate_number_of_records": breach.approx_records,
            "affected_tables": breach.affected_tables,
            "likely_consequences": breach.consequences,
            "measures": breach.measures,
        },
        "risk": {
            "level": breach.risk,
            "reasoning": breach.risk_reasoning,
            "assessed_at": _iso(breach.assessed_at),
        },
        "communication_to_subjects": {
            "status": subjects_status(breach),
            "people_told": breach.subjects_notified,
            "exemption_ground": breach.exemption_ground,
            "exemption_explanation": breach.exemption_reason,
        },
        "notifications": [
            {
                "phase": n.phase,
                "filed_at": n.filed_at.isoformat(),
                "late": n.late,
                "delay_reasons": n.delay_reasons,
                "authority_reference": n.authority_reference,
            }
            for n in breach.notifications
        ],
        "late": any(n.late for n in breach.notifications),
        "delay_reasons": next((n.delay_reasons for n in breach.notifications if n.delay_reasons), None),
    }


def _fmt(at: str | None, t: Mapping[str, str]) -> str:
    if not at:
        return t["unknown"]
    return at.replace("T", " ")[:16] + " UTC"


def notification_document(content: dict[str, Any]) -> Document:
    """The notification JSON laid out as a printable document in its language."""
    lang = content["language"]
    t = LABELS[lang]
    b = content["breach"]
    cp = content["contact_point"]
    ctl = content["controller"]
    auth = content["authority"]
    risk = content["risk"]
    subjects = content["communication_to_subjects"]

    def value(v: object) -> str:
        return t["unknown"] if v in (None, "") else str(v)

    status = subjects["status"]
    if status == "notified":
        subjects_text = t.plural("subjects_notified", subjects["people_told"]).format(
            n=subjects["people_told"]
        )
    elif status == "exempt":
        subjects_text = t["subjects_exempt"].format(
            ground=GROUND_LETTERS.get(subjects["exemption_ground"], "")
        )
    else:
        subjects_text = t[f"subjects_{status}"]
    filed_rows = [
        [
            t.get(f"phase_{n['phase']}", n["phase"]),
            _fmt(n["filed_at"], t),
            t["yes"] if n["late"] else t["no"],
            n["delay_reasons"] or "—",
            n["authority_reference"] or "—",
        ]
        for n in content["notifications"]
    ]
    blocks: list[Block] = [
        Heading(t["controller"]),
        KeyValues(
            [
                (t["legal_name"], ctl["legal_name"]),
                (t["registration_number"], value(ctl["registration_number"])),
                (t["address"], ctl["address"]),
            ]
        ),
        Heading(t["contact_point"]),
        KeyValues(
            [(t[k], cp[k]) for k in ("email", "phone", "url", "address") if cp.get(k)]
            or [("—", t["unknown"])]
        ),
        Heading(t["breach"]),
        KeyValues(
            [
                (t["reference"], b["reference"]),
                (t["phase"], t.get(f"phase_{content['phase']}", content["phase"])),
                (t["breach_title"], b["title"]),
                (t["occurred_at"], _fmt(b["occurred_at"], t)),
                (t["aware_at"], _fmt(b["aware_at"], t)),
                (t["deadline"], _fmt(b["notification_deadline"], t) + f" ({b['deadline_hours']} h)"),
                (t["delay_reasons"], content["delay_reasons"] or "—"),
            ]
        ),
        Heading(t["nature"]),
        Paragraph(b["nature"]),
        KeyValues(
            [
                (t["breach_types"], ", ".join(t[f"type_{x}"] for x in b["breach_types"]) or t["unknown"]),
                (t["data_categories"], ", ".join(c["title"] for c in b["data_categories"]) or t["unknown"]),
                (
                    t["subject_categories"],
                    ", ".join(g["title"] for g in b["subject_categories"]) or t["unknown"],
                ),
                (t["approx_subjects"], value(b["approximate_number_of_subjects"])),
                (t["approx_records"], value(b["approximate_number_of_records"])),
                (t["affected_tables"], ", ".join(b["affected_tables"]) or "—"),
            ]
        ),
        Heading(t["consequences"]),
        Paragraph(b["likely_consequences"] or t["unknown"]),
        Heading(t["measures"]),
        Paragraph(b["measures"] or t["unknown"]),
        Heading(t["risk"]),
        KeyValues(
            [
                (t["risk_level"], t[f"risk_{risk['level']}"] if risk["level"] else t["unknown"]),
                (t["reasoning"], value(risk["reasoning"])),
            ]
        ),
        Heading(t["subjects"]),
        KeyValues(
            [(t["subjects_status"], subjects_text)]
            + (
                [(t["reasoning"], subjects["exemption_explanation"])]
                if subjects["exemption_explanation"]
                else []
            )
        ),
    ]
    if filed_rows:
        blocks += [
            Heading(t["filed"]),
            Table(
                [t["phase"], t["filed_at"], t["late"], t["delay_reasons"], t["authority_reference"]],
                filed_rows,
            ),
        ]
    blocks.append(Paragraph(t["phased"]))
    return Document(
        title=t["title"],
        subtitle=t["subtitle"].format(authority=auth["name"]),
        language=lang,
        blocks=blocks,
        footer=t["generated"].format(at=content["generated_at"][:16].replace("T", " ")),
    )
