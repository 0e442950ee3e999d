"""`sargs ropa ...` and `sargs policy notify`: the Art. 30 record, processors, new-version notices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from sargs.core.i18n import LANGUAGES
from sargs.domains.ropa.processors import contract_status, processors_of
from sargs.entrypoints.api.routers.ropa import ropa_file
from sargs.entrypoints.cli.output import console, err, need_policies
from sargs.entrypoints.cli.output import fail as _fail
from sargs.entrypoints.container import Container


def make_ropa_cli(container: Callable[..., Container]) -> typer.Typer:
    """The `ropa` command group."""
    app = typer.Typer(
        help="The record of processing activities (GDPR Art. 30) and processors.", no_args_is_help=True
    )

    @app.command("export")
    def export(
        controller: Annotated[str, typer.Option(help="Controller id from the policy.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
        format: Annotated[str, typer.Option("--format", help="pdf, html, csv or json.")] = "pdf",
        lang: Annotated[str, typer.Option(help="lv, en or another language of the catalogues.")] = "lv",
    ) -> None:
        """Write one controller's Art. 30(1) record, generated from its published policy."""
        if format not in ("pdf", "html", "csv", "json") or lang not in LANGUAGES:
            raise _fail(f"--format is pdf, html, csv or json; --lang is one of {', '.join(LANGUAGES)}")
        c = container(publish=False, schema=False)
        body, _, _ = ropa_file(c, controller, format, lang)
        output.write_bytes(body)
        console.print(f"wrote {output}")

    @app.command("processors")
    def processors() -> None:
        """Every processor per controller with its contract state today."""
        c = container(publish=False, schema=False)
        need_policies(c)
        today = c.clock.now().date()
        listed = 0
        for controller in c.registry.controller_ids:
            for p in processors_of(c.registry.policy_for(controller), controller):
                s = contract_status(p, today=today)
                mark = "[green]in force[/]" if s.in_force else f"[red]NOT IN FORCE[/] ({s.reason})"
                console.print(f"{controller}: {p.id} {p.name} — {mark}", highlight=False)
                listed += 1
        if not listed:
            console.print("the loaded policies declare no processors")

    return app


def add_policy_notify(policy_app: typer.Typer, container: Callable[..., Container]) -> None:
    """`sargs policy notify --policy ID`: tell people about the policy's current version (R 7.2)."""
    from sargs.domains.policy.notices import notify_policy_version
    from sargs.entrypoints.notices import mail_queue, notice_secret

    @policy_app.command("notify")
    def policy_notify(
        policy: Annotated[str, typer.Option("--policy", help="The policy id (policy.id in the file).")],
        batch: Annotated[int, typer.Option(help="People per transaction.", min=1, max=10_000)] = 500,
    ) -> None:
        """Queue a notice of the current version to everyone the policy's controllers hold; once per version."""
        c = container()
        target = next((p for p in c.registry.policies if p.id == policy), None)
        if target is None:
            known = ", ".join(p.id for p in c.registry.policies) or "none loaded"
            raise _fail(f"unknown policy {policy!r} (loaded: {known})")
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("queueing notices", total=None)
            report = notify_policy_version(
                sessions=c.sessions,
                policy=target,
                secret=notice_secret(c),
                now=c.clock.now,
                mail=mail_queue(c),
                batch=batch,
                progress=lambda n: progress.update(task, completed=n),
            )
        console.print(
            f"policy {target.id} {target.version}: queued {report.sms} SMS and {report.email} e-mails; "
            f"{report.already} already told, {report.unreachable} unreachable, "
            f"{report.email_unavailable} wait for an e-mail outbox"
        )
