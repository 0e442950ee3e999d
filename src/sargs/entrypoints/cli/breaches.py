"""`sargs breach ...`: the breach register from the command line (R-BRE-1..3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from sargs.core.clock import as_utc
from sargs.core.errors import SargsError
from sargs.core.i18n import LANGUAGES
from sargs.domains.access.principal import Principal
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.deadlines import BreachClock
from sargs.domains.breaches.notification import authority_notification, notification_document
from sargs.domains.breaches.service import BreachView
from sargs.domains.breaches.subjects import notify_affected, source_identities
from sargs.entrypoints.container import Container
from sargs.entrypoints.notices import mail_queue, notice_secret, source_connectors

console = Console()
err = Console(stderr=True, soft_wrap=True)

# The command line runs with the installation's own authority, named so in the trail.
CLI = Principal(kind="token", id="cli", role="admin", controllers=None)


def _fail(message: str) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(1)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise _fail(f"--{name} must be an ISO date and time, e.g. 2026-11-23T09:30+02:00") from None


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _clock(c: BreachClock) -> str:
    """'running, 47 h 12 min left', 'overdue by 246 h', or the state with the time it stopped at."""
    if c.state == "running":
        return f"running, {c.remaining_text()} left"
    if c.state == "overdue":
        return c.remaining_text()
    return f"{c.state} ({c.remaining_text()})"


def _print(view: BreachView) -> None:
    c = view.clock
    console.print(f"[bold]{view.title}[/] ({view.id})", highlight=False)
    rows = [
        ("controller", view.controller),
        ("status", view.status),
        ("aware at", view.aware_at.isoformat()),
        ("deadline", f"{c.due_at.isoformat()} — {_clock(c)}"),
        ("risk", f"{view.risk or '—'}: {view.risk_reasoning or ''}"),
        ("data categories", ", ".join(view.data_categories) or "—"),
        ("subject categories", ", ".join(view.subject_categories) or "—"),
        ("approx. subjects / records", f"{view.approx_subjects or '?'} / {view.approx_records or '?'}"),
        ("affected tables", ", ".join(view.affected_tables) or "—"),
        ("people told", str(view.subjects_notified)),
        ("exemption", f"{view.exemption_ground}: {view.exemption_reason}" if view.exemption_ground else "—"),
    ]
    for label, value in rows:
        console.print(f"  {label:>26}: {value}", markup=False, highlight=False)
    for n in view.notifications:
        console.print(
            f"  notified ({n.phase}) {n.filed_at.isoformat()}{' LATE' if n.late else ''}", markup=False
        )
    for ch in view.changes:
        console.print(f"  · {ch.at.isoformat()} {ch.actor} {ch.action}", markup=False, highlight=False)


def make_breach_cli(container: Callable[..., Container]) -> typer.Typer:
    """The `breach` command group; `container()` builds the process's container."""
    app = typer.Typer(help="The breach register and its 72-hour clock.", no_args_is_help=True)

    def run(fn: Callable[..., Any], **kw: Any) -> Any:
        c = container()
        try:
            with c.sessions.begin() as session:
                return fn(session=session, registry=c.registry, by=CLI, now=c.clock.now(), **kw)
        except SargsError as exc:
            raise _fail(exc.message) from None

    @app.command("add")
    def add(
        controller: Annotated[str, typer.Option(help="Controller id from the policy.")],
        title: Annotated[str, typer.Option(help="A one-line summary.")],
        nature: Annotated[str, typer.Option(help="What happened (Art. 33(3)(a)).")],
        aware_at: Annotated[
            str | None, typer.Option(help="When the controller became aware (ISO; default now).")
        ] = None,
        occurred_at: Annotated[str | None, typer.Option(help="When it happened (ISO), if known.")] = None,
        types: Annotated[
            str | None, typer.Option(help="Comma-separated: confidentiality, integrity, availability.")
        ] = None,
        data_categories: Annotated[
            str | None, typer.Option(help="Comma-separated data-category ids.")
        ] = None,
        subject_categories: Annotated[
            str | None, typer.Option(help="Comma-separated client-group ids.")
        ] = None,
        subjects: Annotated[int | None, typer.Option(help="Approximate number of people.", min=0)] = None,
        records: Annotated[int | None, typer.Option(help="Approximate number of records.", min=0)] = None,
        consequences: Annotated[str, typer.Option(help="Likely consequences.")] = "",
        measures: Annotated[str, typer.Option(help="Measures taken or proposed.")] = "",
        tables: Annotated[
            str | None, typer.Option(help="Comma-separated source.table names affected.")
        ] = None,
    ) -> None:
        """Register a breach; the notification clock starts when the controller became aware."""
        c = container()
        values: dict[str, Any] = {
            "title": title,
            "nature": nature,
            "aware_at": _when(aware_at, "aware-at") or c.clock.now(),
            "occurred_at": _when(occurred_at, "occurred-at"),
            "breach_types": _split(types) or [],
            "data_categories": _split(data_categories) or [],
            "subject_categories": _split(subject_categories) or [],
            "approx_subjects": subjects,
            "approx_records": records,
            "consequences": consequences,
            "measures": measures,
            "affected_tables": _split(tables) or [],
        }
        view = run(breaches.register_breach, controller=controller, values=values)
        console.print(f"registered breach {view.id}; notify the authority by {view.clock.due_at.isoformat()}")

    @app.command("list")
    def list_(all_: Annotated[bool, typer.Option("--all", help="Include closed breaches.")] = False) -> None:
        """Breaches with their clocks (open, assessed and notified ones unless --all)."""
        c = container()
        with c.read_sessions.begin() as session:
            views = breaches.list_breaches(
                session=session,
                registry=c.registry,
                by=CLI,
                now=c.clock.now(),
                status=None if all_ else ["open", "assessed", "notified"],
            )
        if not views:
            console.print("no breaches")
        for v in views:
            console.print(
                f"{v.id}  {v.controller}  {v.status}  risk {v.risk or '—'}  "
                f"due {v.clock.due_at.strftime('%Y-%m-%d %H:%M')} UTC  {_clock(v.clock)}\n"
                f"    {v.title}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    @app.command("show")
    def show(breach_id: str) -> None:
        """One breach, its notifications and its change trail."""
        c = container()
        try:
            with c.read_sessions.begin() as session:
                view = breaches.get_breach(
                    session=session, registry=c.registry, breach_id=breach_id, by=CLI, now=c.clock.now()
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        _print(view)

    @app.command("assess")
    def assess(
        breach_id: str,
        risk: Annotated[str, typer.Option(help="none, risk or high.")],
        reasoning: Annotated[str, typer.Option(help="Why (kept as the record).")],
    ) -> None:
        """Record the risk assessment with its reasoning."""
        view = run(breaches.assess_breach, breach_id=breach_id, risk=risk, reasoning=reasoning)
        console.print(f"breach {view.id}: risk {view.risk}, status {view.status}")

    @app.command("notify")
    def notify(
        breach_id: str,
        phase: Annotated[str, typer.Option(help="initial, follow_up or final.")] = "initial",
        filed_at: Annotated[str | None, typer.Option(help="When it was filed (ISO; default now).")] = None,
        delay_reasons: Annotated[
            str | None, typer.Option(help="Required when filed after the deadline.")
        ] = None,
        reference: Annotated[str | None, typer.Option(help="The authority's reference.")] = None,
        language: Annotated[str, typer.Option(help="lv or en: the language of the filed content.")] = "lv",
    ) -> None:
        """Record a notification filed with the supervisory authority."""
        c = container()
        try:
            with c.sessions.begin() as session:
                view = breaches.get_breach(
                    session=session, registry=c.registry, breach_id=breach_id, by=CLI, now=c.clock.now()
                )
                content = authority_notification(
                    breach=view,
                    policy=c.registry.policy_for(view.controller),
                    language=language,
                    now=c.clock.now(),
                    phase=phase,
                )
                note = breaches.file_notification(
                    session=session,
                    registry=c.registry,
                    breach_id=breach_id,
                    phase=phase,
                    by=CLI,
                    now=c.clock.now(),
                    content=content,
                    filed_at=_when(filed_at, "filed-at"),
                    delay_reasons=delay_reasons,
                    authority_reference=reference,
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"recorded the {note.phase} notification{' (late)' if note.late else ''}")

    @app.command("exempt")
    def exempt(
        breach_id: str,
        ground: Annotated[str, typer.Option(help="protected_data, risk_removed or disproportionate_effort.")],
        explanation: Annotated[str, typer.Option(help="Why the ground applies.")],
    ) -> None:
        """Record the Art. 34(3) exemption from telling the people concerned."""
        run(breaches.record_exemption, breach_id=breach_id, ground=ground, explanation=explanation)
        console.print("exemption recorded")

    @app.command("close")
    def close(breach_id: str) -> None:
        """Close a breach (assessed, notified when needed, people told or exempted)."""
        run(breaches.close_breach, breach_id=breach_id)
        console.print("closed")

    @app.command("notify-subjects")
    def notify_subjects(
        breach_id: str,
        own_subjects: Annotated[
            bool,
            typer.Option(
                "--own-subjects/--sources-only", help="Also tell everyone Sargs holds for the controller."
            ),
        ] = True,
        batch: Annotated[int, typer.Option(help="People per transaction.", min=1, max=10_000)] = 500,
    ) -> None:
        """Tell each person affected by a high-risk breach once (SMS, or e-mail); safe to re-run."""
        c = container()
        try:
            with c.read_sessions.begin() as session:
                view = breaches.get_breach(
                    session=session, registry=c.registry, breach_id=breach_id, by=CLI, now=c.clock.now()
                )
            policy = c.registry.policy_for(view.controller)
            unreachable: list[str] = []
            people = source_identities(
                policy=policy,
                affected_tables=view.affected_tables,
                connectors=source_connectors(c),
                unreachable=unreachable,
            )
            mail = mail_queue(c)
            with Progress(console=err, transient=True) as progress:
                task = progress.add_task("telling the people affected", total=view.approx_subjects)
                report = notify_affected(
                    sessions=c.sessions,
                    policy=policy,
                    breach_id=breach_id,
                    by=CLI,
                    identities=people,
                    include_own_subjects=own_subjects,
                    secret=notice_secret(c),
                    now=c.clock.now,
                    mail=mail,
                    batch=batch,
                    progress=lambda n: progress.update(task, completed=n),
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        for problem in unreachable:
            err.print(f"[yellow]source skipped:[/] {problem}", highlight=False)
        console.print(
            f"queued {report.sms} SMS and {report.email} e-mails; {report.already} already told, "
            f"{report.unreachable} unreachable (`sargs sms send` and `sargs mail send` deliver them)"
        )

    @app.command("export")
    def export(
        breach_id: str,
        format: Annotated[str, typer.Option("--format", help="pdf or json.")] = "pdf",
        lang: Annotated[str, typer.Option(help="lv or en.")] = "lv",
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="File to write (default: stdout for json).")
        ] = None,
    ) -> None:
        """The notification to the authority with every Art. 33(3) field, as PDF or JSON."""
        if format not in ("pdf", "json") or lang not in LANGUAGES:
            raise _fail(f"--format is pdf or json, --lang is one of {', '.join(LANGUAGES)}")
        c = container()
        try:
            with c.read_sessions.begin() as session:
                view = breaches.get_breach(
                    session=session, registry=c.registry, breach_id=breach_id, by=CLI, now=c.clock.now()
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        content = authority_notification(
            breach=view, policy=c.registry.policy_for(view.controller), language=lang, now=c.clock.now()
        )
        if format == "json":
            text = json.dumps(content, ensure_ascii=False, indent=2)
            if output is None:
                console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                output.write_text(text + "\n", encoding="utf-8")
        else:
            if output is None:
                raise _fail("a PDF needs -o FILE")
            from sargs.integrations.documents.pdf import render_pdf  # fpdf loads on first PDF

            output.write_bytes(render_pdf(notification_document(content)))
        if output is not None:
            console.print(f"wrote {output}")

    return app
