"""`sargs mail ...` (the e-mail outbox and marketing campaigns) and `sargs weblog ...` (website
access logs): issue 7."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sargs.core.config import Settings
from sargs.core.errors import SargsError
from sargs.domains.mail.ports import MailSender
from sargs.entrypoints.cli.stopping import stop_on_signals
from sargs.entrypoints.container import Container

console = Console()
err = Console(stderr=True)
ContainerFn = Callable[..., Container]


def _fail(message: str) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(1)


def mail_sender(settings: Settings) -> MailSender:
    """SMTP when SARGS_SMTP_HOST is set; otherwise messages are printed (demo)."""
    if settings.smtp_host:
        from sargs.integrations.mail.smtp import SmtpMailer

        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    from sargs.integrations.mail.console import ConsoleMailSender

    return ConsoleMailSender()


def _with_policies(container: ContainerFn, policy: list[Path] | None) -> Container:
    """The container, with these policy files when given here rather than before `mail`."""
    if not policy:
        return container()
    saved = os.environ.get("SARGS_POLICY_FILES")
    os.environ["SARGS_POLICY_FILES"] = ",".join(str(p) for p in policy)
    try:
        return container()
    finally:
        if saved is None:
            os.environ.pop("SARGS_POLICY_FILES", None)
        else:
            os.environ["SARGS_POLICY_FILES"] = saved


def link_base(settings: Settings, given: str | None) -> str:
    """Where unsubscribe and tracking links point."""
    base = given or settings.mail_link_base_url or settings.public_url
    if not base:
        raise _fail("say where links point: --base-url, SARGS_MAIL_LINK_BASE_URL or SARGS_PUBLIC_URL")
    if not base.startswith(("https://", "http://")):
        raise _fail("the base URL must start with https:// (or http:// for a local test)")
    return base.rstrip("/")


def make_mail_cli(container: ContainerFn) -> typer.Typer:
    """The `sargs mail` commands."""
    app = typer.Typer(help="Outgoing e-mail: the outbox and marketing campaigns.", no_args_is_help=True)

    @app.command("send")
    def send(
        once: Annotated[bool, typer.Option("--once", help="Send what is due, then stop.")] = False,
        interval: Annotated[float, typer.Option(help="Seconds between polls when idle.", min=0.1)] = 2.0,
        batch: Annotated[int, typer.Option(help="Messages claimed per round.", min=1, max=1000)] = 50,
    ) -> None:
        """Deliver queued e-mail over SMTP (SARGS_SMTP_*), retrying transient failures.

        SIGTERM or Ctrl+C stops it after the message being sent; the rest of its batch is handed
        back at once."""
        from sargs.domains.mail.outbox import MailReport, deliver_due

        c = container(publish=False)
        sender = mail_sender(c.settings)
        totals = MailReport()
        with stop_on_signals() as stop:
            while not stop.is_set():
                report = deliver_due(
                    sessions=c.sessions, sender=sender, now=c.clock.now, limit=batch, should_stop=stop.is_set
                )
                totals.sent += report.sent
                totals.retried += report.retried
                totals.failed += report.failed
                if report.handled:
                    err.print(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
                if report.released:
                    err.print(f"stopping: {report.released} message(s) handed back unsent")
                if once and not report.handled:
                    break
                if not report.handled:
                    stop.wait(interval)
        console.print(f"delivered {totals.sent}, to retry later {totals.retried}, failed {totals.failed}")

    @app.command("outbox")
    def outbox() -> None:
        """How many e-mails are queued, being sent, sent and failed."""
        from sargs.domains.mail.outbox import status_counts

        c = container(publish=False)
        with c.read_sessions.begin() as session:
            counts = status_counts(session=session)
        table = Table("status", "messages")
        for status in ("queued", "sending", "sent", "failed"):
            table.add_row(status, str(counts.get(status, 0)))
        console.print(table)

    @app.command("campaign")
    def campaign(
        controller: Annotated[str, typer.Option(help="The controller sending.")],
        purpose: Annotated[
            str, typer.Option(help="A consent purpose with e-mail among its contact channels.")
        ],
        subject: Annotated[str, typer.Option(help="The e-mail's subject line.")],
        text_file: Annotated[
            Path, typer.Option(help="The plain-text body (UTF-8).", exists=True, dir_okay=False)
        ],
        policy: Annotated[
            list[Path] | None, typer.Option("--policy", "-p", help="Policy file (repeatable).")
        ] = None,
        lang: Annotated[str, typer.Option(help="Language of the unsubscribe footer: lv or en.")] = "lv",
        base_url: Annotated[
            str | None, typer.Option(help="Where links point (default SARGS_PUBLIC_URL).")
        ] = None,
    ) -> None:
        """Queue one e-mail per person whose consent for PURPOSE is in force, each with one-click
        unsubscribe headers (RFC 8058) and, under tracking consent, tracked links."""
        from sargs.domains.mail.campaign import enqueue_campaign
        from sargs.domains.mail.links import link_key

        c = _with_policies(container, policy)
        base = link_base(c.settings, base_url)
        text = text_file.read_text(encoding="utf-8")
        try:
            with c.sessions.begin() as session:
                report = enqueue_campaign(
                    session=session,
                    registry=c.registry,
                    key=link_key(c.settings.secret_key),
                    base_url=base,
                    controller=controller,
                    purpose=purpose,
                    subject=subject,
                    text=text,
                    now=c.clock.now(),
                    language=lang,
                    mailto=c.settings.mail_unsubscribe_mailto,
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(
            f"queued {report.queued} e-mails ({report.tracked} with tracking, by consent; {report.bounced} left out: "
            "their address bounced); `sargs mail send` sends them"
        )

    return app


def _numbered(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        yield from enumerate(handle, start=1)


def make_weblog_cli(container: ContainerFn) -> typer.Typer:
    """The `sargs weblog` commands."""
    app = typer.Typer(
        help="Website access logs (pseudonymised, kept for the policy's period).", no_args_is_help=True
    )

    def _controller(c: Container, given: str | None) -> str:
        if given:
            return given
        found = [
            p.web.controller
            for p in c.registry.policies
            if p.web is not None and p.web.access_logs is not None
        ]
        if len(found) != 1:
            raise _fail(
                f"say which controller with --controller (policies with access logs: {', '.join(found) or 'none'})"
            )
        return found[0]

    @app.command("ingest")
    def ingest(
        file: Annotated[
            Path,
            typer.Argument(help="An access log in common or combined format.", exists=True, dir_okay=False),
        ],
        controller: Annotated[str | None, typer.Option(help="Whose website (default: the only one).")] = None,
        chunk: Annotated[int, typer.Option(help="Lines per transaction.", min=100, max=100_000)] = 5000,
    ) -> None:
        """Store a log's lines with IPs pseudonymised; bad lines are counted, re-ingesting is harmless."""
        from rich.progress import BarColumn, Progress, TextColumn

        from sargs.domains.web.access_logs import (
            Ingester,
            IngestReport,
            access_log_config,
            ingest_lines,
            pseudonym_key,
        )

        c = container(publish=False)
        who = _controller(c, controller)
        try:
            config = access_log_config(registry=c.registry, controller=who)
        except SargsError as exc:
            raise _fail(exc.message) from None
        lookup = None
        if config.keep_network and c.settings.ip2asn_file:
            from sargs.integrations.web.ip2asn import Ip2AsnLookup

            lookup = Ip2AsnLookup(c.settings.ip2asn_file)
        elif config.keep_network:
            err.print(
                "[yellow]note:[/] the policy keeps the network, but SARGS_IP2ASN_FILE is not set: none recorded"
            )
        key = pseudonym_key(c.settings.secret_key)
        ingester = Ingester(controller=who, key=key, keep_network=config.keep_network, lookup=lookup)
        report = IngestReport()
        size = file.stat().st_size
        started = time.perf_counter()
        with Progress(
            TextColumn("ingesting"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("ingest", total=size or 1)
            batch: list[tuple[int, str]] = []
            done = 0
            for number, line in _numbered(file):
                batch.append((number, line))
                done += len(line.encode("utf-8", "replace"))
                if len(batch) >= chunk:
                    with c.sessions.begin() as session:
                        ingest_lines(
                            session=session, ingester=ingester, lines=batch, now=c.clock.now(), report=report
                        )
                    batch = []
                    progress.update(task, completed=done)
            if batch:
                with c.sessions.begin() as session:
                    ingest_lines(
                        session=session, ingester=ingester, lines=batch, now=c.clock.now(), report=report
                    )
            progress.update(task, completed=size)
        seconds = max(time.perf_counter() - started, 1e-9)
        console.print(
            f"{report.lines} lines: {report.stored} stored, {report.duplicates} already there, {report.bad} not understood "
            f"({report.lines / seconds:,.0f} lines/s)"
        )
        if report.bad_line_numbers:
            shown = ", ".join(str(n) for n in report.bad_line_numbers)
            err.print(
                f"[yellow]lines not in common/combined format:[/] {shown}{' ...' if report.bad > len(report.bad_line_numbers) else ''}"
            )

    @app.command("purge")
    def purge(
        controller: Annotated[str | None, typer.Option(help="Whose website (default: the only one).")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what is due.")] = False,
        batch: Annotated[int, typer.Option(help="Lines deleted per transaction.", min=100)] = 10_000,
    ) -> None:
        """Delete access log lines older than the policy's retention period."""
        from sargs.domains.web.access_logs import count_expired, minus, purge_expired, retention_period

        c = container(publish=False)
        who = _controller(c, controller)
        try:
            period = retention_period(registry=c.registry, controller=who)
        except SargsError as exc:
            raise _fail(exc.message) from None
        before = minus(c.clock.now(), period)
        if dry_run:
            with c.read_sessions.begin() as session:
                due = count_expired(session=session, before=before, controller=who)
            console.print(
                f"{due} lines older than {before.isoformat()} ({period.iso()}) are due for deletion"
            )
            return
        total = 0
        while True:
            with c.sessions.begin() as session:
                gone = purge_expired(session=session, before=before, limit=batch, controller=who)
            total += gone
            if gone < batch:
                break
        console.print(f"deleted {total} lines older than {before.isoformat()} ({period.iso()})")

    return app


__all__ = ["mail_sender", "make_mail_cli", "make_weblog_cli"]
