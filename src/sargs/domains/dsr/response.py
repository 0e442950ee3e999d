"""The answer to a request (R-DSR-7), as a Document in the requester's language: what was asked,
what was done per source and table, what was kept and why, who among staff looked at the
person's data (access requests), and the supervisory authority with the right to complain."""

from __future__ import annotations

from typing import Any

from sargs.core.i18n import LANGUAGES, Texts
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.documents.model import Block, Bullets, Document, Heading, KeyValues, Paragraph, Table
from sargs.domains.dsr.fulfilment import erasure_tables
from sargs.domains.dsr.model import DsrRequest, DsrSourceRun
from sargs.domains.policy.schema import Policy

T = Texts("dsr.response.T")
KIND_NAMES = Texts("dsr.response.KIND_NAMES")
GROUND_NAMES = Texts("dsr.response.GROUND_NAMES")
STATUS_NAMES = Texts("dsr.response.STATUS_NAMES")


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
    lang = language if language in LANGUAGES else request.language
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
