"""The answer to a request (R-DSR-7), as a Document in the requester's language: what was asked,
what was done per source and table, what was kept and why, who among staff looked at the
person's data (access requests), and the supervisory authority with the right to complain."""

from __future__ import annotations

from typing import Any

from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.documents.model import Block, Bullets, Document, Heading, KeyValues, Paragraph, Table
from sargs.domains.dsr.fulfilment import erasure_tables
from sargs.domains.dsr.model import DsrRequest, DsrSourceRun
from sargs.domains.policy.schema import Policy

T: dict[str, dict[str, str]] = {
    "lv": {
        "title": "Atbilde uz datu subjekta pieprasījumu",
        "request": "Pieprasījums",
        "id": "Numurs",
        "kind": "Veids",
        "received": "Saņemts",
        "due": "Atbildes termiņš",
        "status": "Statuss",
        "controller": "Pārzinis",
        "ground": "Pamatojums",
        "done": "Kas tika izdarīts",
        "source": "Datu avots",
        "table": "Tabula",
        "rows": "Ieraksti",
        "deleted": "Dzēsti",
        "anonymised": "Anonimizēti",
        "kept": "Saglabāti",
        "kept_title": "Kas tika saglabāts un kāpēc",
        "until": "līdz",
        "nothing_kept": "Nekas netika saglabāts.",
        "failed": "Šis datu avots vēl nav apstrādāts; mēs to atkārtosim.",
        "decision": "Lēmums",
        "staff_title": "Kuri darbinieki skatīja jūsu datus",
        "staff_none": "Neviens darbinieks nav skatījis jūsu datus.",
        "when": "Kad",
        "who": "Kas",
        "role": "Loma",
        "action": "Darbība",
        "reason": "Iemesls",
        "authority": "Tiesības iesniegt sūdzību",
        "complain": "Ja uzskatāt, ka jūsu personas dati tiek apstrādāti nelikumīgi, jums ir tiesības iesniegt sūdzību uzraudzības iestādei:",
        "extended": "Atbildes termiņš tika pagarināts",
        "sargs": "Mūsu piekrišanu reģistrā jūsu identifikatori (tālrunis, e-pasts, klienta numurs) aizstāti ar pseidonīmiem; piekrišanu vēsture paliek bez personas datiem.",
        "authority_name": "Iestāde",
        "address": "Adrese",
        "email": "E-pasts",
        "phone": "Tālrunis",
        "web": "Tīmekļa vietne",
        "withdrawn": "Atsauktās piekrišanas",
        # Recipients told (GDPR Art. 19)
        "told_title": "Kam paziņots",
        "told_text": "Par pieprasījuma izpildi esam paziņojuši šiem datu saņēmējiem (VDAR 19. pants):",
        "footer": "Sagatavots ar Sargs",
        "asked": "Jūsu pieprasījums",
        "export": "Jūsu dati ir pievienoti datorlasāmā formātā (JSON un CSV, zip arhīvs); tos varat lejupielādēt arī portālā.",
    },
    "en": {
        "title": "Answer to your data-subject request",
        "request": "Request",
        "id": "Number",
        "kind": "Type",
        "received": "Received",
        "due": "Answer due",
        "status": "Status",
        "controller": "Controller",
        "ground": "Ground",
        "done": "What was done",
        "source": "Data source",
        "table": "Table",
        "rows": "Rows",
        "deleted": "Deleted",
        "anonymised": "Anonymised",
        "kept": "Kept",
        "kept_title": "What was kept and why",
        "until": "until",
        "nothing_kept": "Nothing was kept.",
        "failed": "This data source has not been processed yet; we will retry it.",
        "decision": "Decision",
        "staff_title": "Which staff looked at your data",
        "staff_none": "No member of staff has looked at your data.",
        "when": "When",
        "who": "Who",
        "role": "Role",
        "action": "Action",
        "reason": "Reason",
        "authority": "Your right to complain",
        "complain": "If you believe your personal data is processed unlawfully, you may complain to the supervisory authority:",
        "extended": "The answer's deadline was extended",
        "sargs": "In our consent register your identifiers (phone, e-mail, customer number) were replaced by pseudonyms; the consent history stays, without personal data.",
        "authority_name": "Authority",
        "address": "Address",
        "email": "E-mail",
        "phone": "Phone",
        "web": "Website",
        "withdrawn": "Consents withdrawn",
        # Recipients told (GDPR Art. 19)
        "told_title": "Who was told",
        "told_text": "We told these recipients of your data that the request was fulfilled (GDPR Art. 19):",
        "footer": "Prepared with Sargs",
        "asked": "What you asked",
        "export": "Your data is attached in a machine-readable form (JSON and CSV in a zip archive); you can also download it in the portal.",
    },
}
KIND_NAMES: dict[str, dict[str, str]] = {
    "lv": {
        "access": "Piekļuve datiem",
        "rectification": "Datu labošana",
        "erasure": "Datu dzēšana",
        "restriction": "Apstrādes ierobežošana",
        "portability": "Datu pārnesamība",
        "objection": "Iebildums",
        "automated_decision_review": "Automatizēta lēmuma pārskatīšana",
        "consent_withdrawal": "Piekrišanas atsaukšana",
    },
    "en": {
        "access": "Access",
        "rectification": "Rectification",
        "erasure": "Erasure",
        "restriction": "Restriction of processing",
        "portability": "Data portability",
        "objection": "Objection",
        "automated_decision_review": "Review of an automated decision",
        "consent_withdrawal": "Consent withdrawal",
    },
}
GROUND_NAMES: dict[str, dict[str, str]] = {
    "lv": {
        "no_longer_needed": "dati vairs nav vajadzīgi (3.1.5.1.)",
        "consent_withdrawn": "piekrišana atsaukta (3.1.5.2.)",
        "unlawful": "dati apstrādāti nelikumīgi (3.1.5.3.)",
        "legal_obligation": "dzēšanu prasa tiesību akti (3.1.5.4.)",
        "direct_marketing": "tiešā tirgvedība",
        "legitimate_interest": "apstrāde leģitīmās interesēs",
    },
    "en": {
        "no_longer_needed": "no longer needed (3.1.5.1)",
        "consent_withdrawn": "consent withdrawn (3.1.5.2)",
        "unlawful": "processed unlawfully (3.1.5.3)",
        "legal_obligation": "legal obligation to erase (3.1.5.4)",
        "direct_marketing": "direct marketing",
        "legitimate_interest": "legitimate-interest processing",
    },
}
STATUS_NAMES: dict[str, dict[str, str]] = {
    "lv": {
        "received": "saņemts",
        "on_hold": "gaida papildinformāciju",
        "verified": "identitāte pārbaudīta",
        "in_progress": "tiek izpildīts",
        "fulfilled": "izpildīts",
        "partially_fulfilled": "izpildīts daļēji",
        "refused": "atteikts",
        "cancelled": "atsaukts",
    },
    "en": {
        "received": "received",
        "on_hold": "waiting for information",
        "verified": "identity verified",
        "in_progress": "in progress",
        "fulfilled": "fulfilled",
        "partially_fulfilled": "partially fulfilled",
        "refused": "refused",
        "cancelled": "cancelled",
    },
}


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""


def build_response(
    *,
    request: DsrRequest,
    policy: Policy,
    runs: list[DsrSourceRun],
    accesses: list[AccessLogEntry],
    staff_names: dict[str, str] | None = None,
    language: str | None = None,
) -> Document:
    """The response document for `request` in its language (or `language`)."""
    lang = language if language in ("lv", "en") else request.language
    t = T[lang]
    controller = policy.controller(request.controller)
    blocks: list[Block] = [
        Heading(t["request"]),
        KeyValues(
            [
                (t["id"], request.id),
                (t["controller"], controller.legal_name if controller else request.controller),
                (t["kind"], KIND_NAMES[lang].get(request.kind, request.kind)),
                *(
                    [(t["ground"], GROUND_NAMES[lang].get(request.ground, request.ground))]
                    if request.ground
                    else []
                ),
                (t["received"], _day(request.received_at)),
                (t["due"], _day(request.due_at)),
                (t["status"], STATUS_NAMES[lang].get(request.status, request.status)),
            ]
        ),
    ]
    if request.details:
        blocks.append(KeyValues([(t["asked"], request.details)]))
    if request.extension:
        blocks.append(Paragraph(f"{t['extended']}: {request.extension.get('reason', '')}"))
    titles = {s.id: s.title.get(lang) for s in policy.data_sources}
    done_rows: list[list[str]] = []
    kept_items: list[str] = []
    for run in runs:
        source = titles.get(run.source, run.source)
        if run.status != "ok" or not run.result:
            done_rows.append([source, "—", t["failed"], "", ""])
            continue
        if run.operation == "collect":
            for table in run.result.get("tables", []):
                done_rows.append([source, table["table"], str(len(table["rows"])), "", ""])
            continue
        for te in erasure_tables(run.result):
            done_rows.append([source, te.table, str(te.deleted), str(te.anonymised), str(te.kept)])
            if te.kept:
                why = te.kept_reason.get(lang) if te.kept_reason else ""
                until = f" ({t['until']} {te.kept_until.isoformat()})" if te.kept_until else ""
                kept_items.append(f"{source} / {te.table}: {te.kept} — {why}{until}")
    blocks.append(Heading(t["done"]))
    if runs and runs[0].operation == "erase":
        blocks.append(Table([t["source"], t["table"], t["deleted"], t["anonymised"], t["kept"]], done_rows))
        blocks.append(Heading(t["kept_title"]))
        blocks.append(Bullets(kept_items) if kept_items else Paragraph(t["nothing_kept"]))
        if request.status in ("fulfilled", "partially_fulfilled"):
            blocks.append(Paragraph(t["sargs"]))
    elif runs:
        blocks.append(Table([t["source"], t["table"], t["rows"]], [r[:3] for r in done_rows]))
        if request.status in ("fulfilled", "partially_fulfilled"):
            blocks.append(Paragraph(t["export"]))
    decision = request.decision or {}
    if decision.get("text"):
        blocks.append(KeyValues([(t["decision"], str(decision["text"]))]))
    if decision.get("withdrawn"):
        blocks.append(KeyValues([(t["withdrawn"], ", ".join(decision["withdrawn"]))]))
    if decision.get("recipients_told"):
        blocks.append(Heading(t["told_title"]))
        blocks.append(Paragraph(t["told_text"]))
        blocks.append(Bullets([str(r["name"]) for r in decision["recipients_told"]]))
    if request.kind == "access":
        blocks.append(Heading(t["staff_title"]))
        staff = [a for a in accesses if a.actor_kind in ("staff", "token")]
        if staff:
            blocks.append(
                Table(
                    [t["when"], t["who"], t["role"], t["action"], t["reason"]],
                    [
                        [
                            a.at.strftime("%Y-%m-%d %H:%M"),
                            (staff_names or {}).get(a.actor_id or "", a.actor_kind),
                            a.role or "",
                            a.action,
                            a.reason or "",
                        ]
                        for a in staff
                    ],
                )
            )
        else:
            blocks.append(Paragraph(t["staff_none"]))
    sa = policy.supervisory_authority
    blocks.append(Heading(t["authority"]))
    blocks.append(Paragraph(t["complain"]))
    blocks.append(
        KeyValues(
            [
                (t["authority_name"], sa.name.get(lang)),
                (t["address"], sa.address),
                *([(t["email"], sa.email)] if sa.email else []),
                *([(t["phone"], sa.phone)] if sa.phone else []),
                (t["web"], sa.url),
            ]
        )
    )
    return Document(
        title=t["title"],
        language=lang,
        blocks=blocks,
        subtitle=controller.legal_name if controller else request.controller,
        footer=t["footer"],
    )
