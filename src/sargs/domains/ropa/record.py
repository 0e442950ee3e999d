"""The record of processing activities of one controller (GDPR Art. 30(1)(a)-(g)), from its policy.

Everything comes from the policy file. What the policy does not say is marked as such rather than
invented: the security measures (Art. 30(1)(g)) are not part of a privacy policy, so the record
says so and lists only what Sargs itself enforces.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sargs.core.i18n import LANGUAGES, Texts
from sargs.domains.documents.model import Block, Bullets, Document, Heading, KeyValues, Paragraph, Table
from sargs.domains.policy.schema import Contact, Policy, RetentionRule
from sargs.domains.ropa.processors import contract_status, processors_of

L = Texts("ropa.record.L")
BASIS = Texts("ropa.record.BASIS")
ANCHORS = Texts("ropa.record.ANCHORS")
SARGS_MEASURE_KEYS = ("ledger", "roles", "access_log", "passwords")
SARGS_MEASURES = Texts("ropa.record.SARGS_MEASURES")


@dataclass(frozen=True)
class PurposeEntry:
    id: str
    title: str
    description: str
    legal_basis: str
    subjects: list[str]
    data: list[str]
    retention: list[str]
    processors: list[str]


@dataclass(frozen=True)
class ProcessorEntry:
    id: str
    name: str
    service: str
    country: str
    outside_eea: bool
    contract: str
    in_force: bool
    purposes: list[str]
    data: list[str]


@dataclass(frozen=True)
class Record:
    """The Art. 30(1) record of one controller, in one language."""

    language: str
    policy_id: str
    policy_version: str
    controller_id: str
    controller: list[tuple[str, str]]
    dpo: list[tuple[str, str]] | None
    joint: list[str]
    purposes: list[PurposeEntry]
    processors: list[ProcessorEntry]
    transfers: list[ProcessorEntry]
    security_stated: bool
    sargs_measures: list[str]
    today: date


def _contact(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return ", ".join(x for x in (contact.email, contact.phone, contact.url, contact.address) if x)


def _retention(rule: RetentionRule, lang: str) -> str:
    t = L[lang]
    if rule.anchor == "consent_withdrawal" and rule.period is None:
        text = t["until_withdrawal"]
    else:
        period = rule.period.iso() if rule.period else ""
        text = t["after"].format(period=period, anchor=ANCHORS[lang][rule.anchor])
    if rule.description is not None:
        text += f" — {rule.description.get(lang)}"
    return text


def build_record(*, policy: Policy, controller_id: str, language: str, today: date) -> Record:
    """The record for `controller_id` from its policy (InvalidInput-free: the caller resolved the controller)."""
    lang = language if language in LANGUAGES else "lv"
    t = L[lang]
    controller = policy.controller(controller_id)
    if controller is None:
        raise ValueError(f"policy {policy.id} has no controller {controller_id}")
    groups = {g.id: g.title.get(lang) for g in policy.client_groups}
    categories = {c.id: c.title.get(lang) for c in policy.data_categories}
    procs = processors_of(policy, controller_id)
    entries = []
    for p in procs:
        status = contract_status(p, today=today)
        dates = " ".join(
            x
            for x in (
                f"{t['since']} {p.contract.signed.isoformat()}" if p.contract.signed else "",
                f"{t['until']} {p.contract.expires.isoformat()}" if p.contract.expires else "",
            )
            if x
        )
        label = t["in_force"] if status.in_force else (status.reason or status.state)
        entries.append(
            ProcessorEntry(
                id=p.id,
                name=p.name,
                service=p.service.get(lang),
                country=p.country,
                outside_eea=status.outside_eea,
                contract=f"{label} {dates}".strip(),
                in_force=status.in_force,
                purposes=list(p.purposes),
                data=[categories.get(c, c) for c in p.data_categories],
            )
        )
    purposes = []
    for purpose in policy.purposes_of(controller_id):
        rules = [r for r in policy.retention_rules if r.purpose == purpose.id]
        eligible = purpose.eligible_groups or [g.id for g in policy.client_groups]
        purposes.append(
            PurposeEntry(
                id=purpose.id,
                title=purpose.title.get(lang),
                description=purpose.description.get(lang),
                legal_basis=BASIS[lang][purpose.legal_basis],
                subjects=[groups.get(g, g) for g in eligible] if purpose.eligible_groups else [t["everyone"]],
                data=[categories.get(c, c) for c in purpose.data_categories] or [t["not_stated"]],
                retention=[_retention(r, lang) for r in rules] or [t["not_stated"]],
                processors=[e.name for e in entries if not e.purposes or purpose.id in e.purposes],
            )
        )
    controller_rows = [(t["name"], controller.legal_name)]
    if controller.registration_number:
        controller_rows.append((t["reg"], controller.registration_number))
    controller_rows += [
        (t["address"], controller.address),
        (t["contact"], _contact(controller.contact) or t["not_stated"]),
    ]
    return Record(
        language=lang,
        policy_id=policy.id,
        policy_version=policy.version,
        controller_id=controller_id,
        controller=controller_rows,
        dpo=[(t["dpo"], _contact(controller.dpo))] if controller.dpo else None,
        joint=[c.legal_name for c in policy.controllers if c.id != controller_id],
        purposes=purposes,
        processors=entries,
        transfers=[e for e in entries if e.outside_eea],
        security_stated=False,
        sargs_measures=[SARGS_MEASURES[lang][k] for k in SARGS_MEASURE_KEYS],
        today=today,
    )


def record_document(record: Record) -> Document:
    """The record as a printable document (PDF and HTML renderers)."""
    t = L[record.language]
    blocks: list[Block] = [
        Heading(t["a"]),
        KeyValues(record.controller + (record.dpo or [(t["dpo"], t["not_stated"])])),
    ]
    if record.joint:
        blocks += [Paragraph(f"{t['joint']}: {', '.join(record.joint)}")]
    blocks += [
        Heading(t["b"]),
        Table(
            [t["purpose"], t["basis"], t["subjects"], t["data"], t["retention"], t["processor"]],
            [
                [
                    f"{p.title}\n{p.description}",
                    p.legal_basis,
                    ", ".join(p.subjects),
                    ", ".join(p.data),
                    "\n".join(p.retention),
                    ", ".join(p.processors) or "—",
                ]
                for p in record.purposes
            ],
        ),
        Heading(t["d"]),
    ]
    if record.processors:
        blocks.append(
            Table(
                [t["processor"], t["service"], t["data"], t["country"], t["contract"]],
                [[e.name, e.service, ", ".join(e.data), e.country, e.contract] for e in record.processors],
            )
        )
    else:
        blocks.append(Paragraph(t["not_stated"]))
    blocks.append(Heading(t["e"]))
    if record.transfers:
        blocks.append(Table([t["processor"], t["country"]], [[e.name, e.country] for e in record.transfers]))
    else:
        blocks.append(Paragraph(t["no_transfers"]))
    blocks += [
        Heading(t["g"]),
        Paragraph(t["g_missing"]),
        Paragraph(t["g_sargs"]),
        Bullets(record.sargs_measures),
    ]
    name = record.controller[0][1]
    return Document(
        title=t["title"],
        subtitle=t["subtitle"].format(name=name, policy=record.policy_id, version=record.policy_version),
        language=record.language,
        blocks=blocks,
        footer=t["generated"].format(today=record.today.isoformat()),
    )


CSV_HEADER = [
    "controller",
    "controller_name",
    "dpo",
    "purpose_id",
    "purpose",
    "legal_basis",
    "data_subjects",
    "personal_data",
    "recipients",
    "transfers_outside_eea",
    "retention",
    "security_measures",
]


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def record_csv(record: Record) -> str:
    """One row per purpose with every Art. 30(1) column (RFC 4180, UTF-8)."""
    t = L[record.language]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for p in record.purposes:
        transfers = [e.name for e in record.transfers if e.name in p.processors]
        writer.writerow(
            _cell(v)
            for v in [
                record.controller_id,
                record.controller[0][1],
                record.dpo[0][1] if record.dpo else t["not_stated"],
                p.id,
                p.title,
                p.legal_basis,
                "; ".join(p.subjects),
                "; ".join(p.data),
                "; ".join(p.processors),
                "; ".join(transfers),
                "; ".join(p.retention),
                t["g_missing"],
            ]
        )
    return buf.getvalue()
