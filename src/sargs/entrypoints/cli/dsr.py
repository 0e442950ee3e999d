"""`sargs dsr`: list requests by due date, show one, the daily reminder job, fulfil with progress."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from sargs.core.errors import SargsError
from sargs.domains.dsr.callbacks import deliver_callbacks
from sargs.domains.dsr.followups import notices_of, pending_tasks, tasks_of
from sargs.domains.dsr.fulfilment import connected_sources, runs_of
from sargs.domains.dsr.reminders import digests, queue_digests, remind
from sargs.domains.dsr.service import DsrActor, get_request, list_requests, missing_of, trail
from sargs.domains.dsr.signatures import EXIT_CODES, SignatureChecker, SignatureResult
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import complete_task, response_bytes, response_document, run_fulfilment

console = Console()
err = Console(stderr=True, soft_wrap=True)
_SPAN = re.compile(r"^(\d{1,4})([dh])$")


def parse_span(text: str) -> timedelta:
    """'7d' or '48h'."""
    match = _SPAN.match(text.strip())
    if not match:
        raise typer.BadParameter("write a span like 7d or 48h")
    n = int(match.group(1))
    return timedelta(days=n) if match.group(2) == "d" else timedelta(hours=n)


def make_dsr_cli(
    container: Callable[[], Container], *, signatures: Callable[[], SignatureChecker] | None = None
) -> typer.Typer:
    """The `dsr` command group; `container()` builds the services (from main's settings), and
    `signatures()` the e-signature checker (without a database)."""
    app = typer.Typer(help="Data-subject rights requests.", no_args_is_help=True)

    @app.command("check-signature")
    def dsr_check_signature(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Check an e-signed file (ASiC-E .edoc/.asice or a signed PDF) against SARGS_ESIGN_TRUST.
        Exit 0 valid, 1 invalid, 2 indeterminate."""
        checker = signatures() if signatures is not None else container().signatures
        result = checker.check(file.read_bytes(), file_name=file.name)
        if as_json:
            print(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            print_signature(result)
        raise typer.Exit(EXIT_CODES[result.status])

    @app.command("list")
    def dsr_list(
        due_within: Annotated[
            str | None, typer.Option("--due-within", help="Open requests due within e.g. 7d.")
        ] = None,
        overdue: Annotated[
            bool, typer.Option("--overdue", help="Open requests past their due date.")
        ] = False,
    ) -> None:
        """Requests by due date (R-DSR-3)."""
        span = parse_span(due_within) if due_within else None
        c = container()
        now = c.clock.now()
        with c.read_sessions.begin() as session:
            rows = list_requests(session=session, now=now, due_within=span, overdue=overdue)
            for r in rows:
                late = r.closed_at is None and r.due_at < now
                mark = "[red]OVERDUE[/]" if late else ("[yellow]repeat[/]" if r.repeat_of else "")
                kind = r.kind + (f"/{r.ground}" if r.ground else "")
                console.print(
                    f"{r.id}  due {r.due_at:%Y-%m-%d %H:%M}  {r.status:<19} {kind:<28} {r.controller:<14} "
                    f"{r.channel:<14} received {r.received_at:%Y-%m-%d} {mark}",
                    highlight=False,
                    soft_wrap=True,
                )
        console.print(f"{len(rows)} request(s)")

    @app.command("show")
    def dsr_show(request_id: str) -> None:
        """One request: its state, trail and each data source's result."""
        c = container()
        with c.read_sessions.begin() as session:
            try:
                r = get_request(session=session, request_id=request_id)
            except SargsError as exc:
                err.print(f"[bold red]error:[/] {exc.message}")
                raise typer.Exit(1) from None
            console.print(
                f"[bold]{r.id}[/] {r.controller} {r.kind} {r.ground or ''} via {r.channel}: [bold]{r.status}[/]"
            )
            console.print(f"received {r.received_at:%Y-%m-%d %H:%M}, due {r.due_at:%Y-%m-%d %H:%M}")
            if missing_of(r):
                console.print(f"missing (retailer 3.4.1): {', '.join(missing_of(r))}")
            if r.repeat_of:
                console.print(f"repeat of {r.repeat_of}; decision: {r.repeat_decision or 'none yet'}")
            for e in trail(session=session, request_id=r.id):
                console.print(
                    f"  {e.at:%Y-%m-%d %H:%M} {e.actor_kind}:{e.actor_id or ''} {e.action} -> {e.to_status} {e.reason or ''}",
                    markup=False,
                )
            for run in runs_of(session=session, request_id=r.id):
                console.print(
                    f"  source {run.source}: {run.operation} {run.status} (attempts {run.attempts}) {run.error or ''}",
                    markup=False,
                )
            for k in tasks_of(session=session, request_id=r.id):
                console.print(
                    f"  manual {k.source}: {k.operation} {k.status} (due {k.due_at:%Y-%m-%d}, {k.assignee})",
                    markup=False,
                )
            for n in notices_of(session=session, request_id=r.id):
                console.print(f"  told {n.recipient} by {n.channel}: {n.status}", markup=False)

    @app.command("purge-results")
    def dsr_purge_results() -> None:
        """Purge what fulfilment collected for requests answered longer ago than the policy's
        `deadlines.dsr_result_retention_days` (the worker runs this daily; safe to rerun)."""
        from sargs.domains.dsr.purge import purge_results

        c = container()
        with c.sessions.begin() as session:
            report = purge_results(session=session, registry=c.registry, now=c.clock.now())
        console.print(report.summary())

    @app.command("remind")
    def dsr_remind(
        within: Annotated[
            str, typer.Option("--within", help="Remind of requests due within this span.")
        ] = "7d",
    ) -> None:
        """The daily reminder job: due-soon and overdue requests, each once a day (safe to rerun)."""
        c = container()
        with c.sessions.begin() as session:  # the reminders and their e-mails land together
            now = c.clock.now()
            items = remind(session=session, now=now, within=parse_span(within))
            mails = digests(
                reminders=items,
                registry=c.registry,
                configured=c.settings.dsr_reminder_to,
                console_url=c.settings.public_url,
            )
            queued = queue_digests(session=session, digests=mails, now=now)
        for item in items:
            mark = "[red]OVERDUE[/]" if item.overdue else "due soon"
            console.print(
                f"{item.request_id} {item.controller} {item.kind} {item.status} due {item.due_at:%Y-%m-%d %H:%M} {mark}"
            )
        console.print(
            f"{len(items)} reminder(s); {queued} e-mail(s) queued (`sargs mail send` delivers them)"
        )
        for d in mails:
            if not d.to:
                err.print(
                    f"[yellow]no e-mail for {d.controller}:[/] set SARGS_DSR_REMINDER_TO or the company's "
                    "dpo/contact e-mail in the policy"
                )

    @app.command("fulfil")
    def dsr_fulfil(request_id: str) -> None:
        """Run an access, portability or erasure request against every data source, with progress."""
        c = container()
        with c.read_sessions.begin() as session:
            try:
                r = get_request(session=session, request_id=request_id)
            except SargsError as exc:
                err.print(f"[bold red]error:[/] {exc.message}")
                raise typer.Exit(1) from None
            sources = [s.id for s in connected_sources(c.registry, r.controller)]
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
        ) as bar:
            tasks = {s: bar.add_task(s, total=1, state="pending") for s in sources}

            def progress(source: str, state: str) -> None:
                task = tasks.get(source)
                if task is not None:
                    bar.update(task, state=state, completed=1 if state in ("ok", "failed", "skipped") else 0)

            try:
                result = run_fulfilment(c, request_id, DsrActor("system", "cli"), progress=progress)
            except SargsError as exc:
                err.print(f"[bold red]error:[/] {exc.message}")
                raise typer.Exit(1) from None
        for source, error in result.errors.items():
            err.print(f"[red]{source} failed:[/] {error} — run again to retry it alone", highlight=False)
        console.print(f"request {request_id}: {result.status}")
        if result.errors:
            raise typer.Exit(2)
        _say_waiting(c, request_id)

    def _say_waiting(c: Container, request_id: str) -> None:
        with c.read_sessions.begin() as session:
            for k in pending_tasks(session=session, request_id=request_id):
                console.print(
                    f"waiting for {k.source} ({k.assignee}, due {k.due_at:%Y-%m-%d}): "
                    f"sargs dsr task-done {request_id} {k.source} --note '…'",
                    markup=False,
                    soft_wrap=True,
                )

    @app.command("task-done")
    def dsr_task_done(
        request_id: str,
        source: Annotated[str, typer.Argument(help="The manual source whose task is done.")],
        note: Annotated[str, typer.Option("--note", help="What was done (kept on the request's trail).")],
    ) -> None:
        """Mark a manual source's task done; the last one completes the request (its sources run again)."""
        c = container()
        actor = DsrActor("system", "cli")
        try:
            with c.sessions.begin() as session:
                task = next(
                    (t for t in tasks_of(session=session, request_id=request_id) if t.source == source), None
                )
                if task is None:
                    known = (
                        ", ".join(t.source for t in tasks_of(session=session, request_id=request_id))
                        or "none"
                    )
                    raise typer.BadParameter(
                        f"no task for source {source!r} on this request (its tasks: {known})"
                    )
                complete_task(
                    c, session, request_id=request_id, task_id=task.id, actor=actor, note=note, queue=False
                )
                left = pending_tasks(session=session, request_id=request_id)
            if not left:
                result = run_fulfilment(c, request_id, actor)
                console.print(f"request {request_id}: {result.status}")
            else:
                _say_waiting(c, request_id)
        except SargsError as exc:
            err.print(f"[bold red]error:[/] {exc.message}")
            raise typer.Exit(1) from None

    @app.command("answer")
    def dsr_answer(
        request_id: str,
        out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.pdf or .html).")],
        lang: Annotated[str | None, typer.Option("--lang", help="lv or en (default: the request's).")] = None,
    ) -> None:
        """Write the answer document (R-DSR-7) as PDF or HTML."""
        c = container()
        fmt = "html" if out.suffix.lower() in (".html", ".htm") else "pdf"
        try:
            body, _ = response_bytes(c, response_document(c, request_id, language=lang), fmt)
        except SargsError as exc:
            err.print(f"[bold red]error:[/] {exc.message}")
            raise typer.Exit(1) from None
        out.write_bytes(body)
        console.print(f"wrote {out} ({len(body)} bytes)")

    @app.command("callbacks")
    def dsr_callbacks() -> None:
        """Deliver due OpenDSR status callbacks once, signed by the processor's certificate
        (SARGS_OPENDSR_CERTIFICATE) or with SARGS_OPENDSR_CALLBACK_SECRET."""
        from sargs.integrations.opendsr.http import HttpCallbackPoster

        c = container()
        signer = c.callback_signer()
        if signer is None:
            err.print(
                "[bold red]error:[/] set SARGS_OPENDSR_SIGNING_KEY and SARGS_OPENDSR_CERTIFICATE, or "
                "SARGS_OPENDSR_CALLBACK_SECRET (shared with the callback receivers), to send signed "
                "status callbacks"
            )
            raise typer.Exit(1)
        report = deliver_callbacks(
            sessions=c.sessions, poster=HttpCallbackPoster(), signer=signer, now=c.clock.now
        )
        console.print(f"sent {report.sent}, retried {report.retried}, failed {report.failed}")

    return app


def print_signature(result: SignatureResult) -> None:
    """The result of `check-signature`, one fact a line."""
    colour = {"valid": "green", "invalid": "red", "indeterminate": "yellow"}[result.status]
    console.print(
        f"[bold {colour}]{result.status.upper()}[/]" + (f": {result.reason}" if result.reason else ""),
        soft_wrap=True,
    )
    if not result.signer_name and not result.personal_code:
        return
    rows = [
        ("format", result.format),
        ("signer", result.signer_name),
        ("personal code", result.personal_code),
        ("qualified", "yes (QcCompliance, QSCD)" if result.qualified else "no"),
        ("signed at", result.signed_at),
        ("issuer", result.issuer),
        ("signed files", ", ".join(result.files)),
        ("revocation", "checked" if result.revocation_checked else "not checked (offline)"),
    ]
    for label, value in rows:
        if value:
            console.print(f"  {label + ':':<15} {value}", highlight=False, soft_wrap=True)
