"""`sargs ledger ...`: verify the consent ledger and the access log, anchor them, make the key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from sargs.core.errors import SargsError
from sargs.entrypoints.cli.output import console, err, fail
from sargs.entrypoints.container import Container


def make_ledger_cli(container: Callable[..., Container]) -> typer.Typer:
    """The `ledger` command group; `container` builds the process's services."""
    app = typer.Typer(
        help="The consent ledger: verify it, anchor it outside the database.", no_args_is_help=True
    )

    @app.command("verify")
    def verify(
        full: Annotated[bool, typer.Option("--full", help="Verify every chain from its start.")] = False,
        anchors: Annotated[
            Path | None,
            typer.Option(
                "--anchors",
                help="A file of signed anchors (the file sink, or anchor e-mails saved): also check the "
                "ledger and the access log against the last of them.",
            ),
        ] = None,
        public_key: Annotated[
            str | None,
            typer.Option(
                "--public-key",
                envvar="SARGS_LEDGER_ANCHOR_PUBLIC_KEY",
                help="The anchors' public key (base64 or PEM, or a file); default: that of SARGS_LEDGER_ANCHOR_KEY.",
            ),
        ] = None,
        jobs: Annotated[
            int,
            typer.Option("--jobs", min=0, max=32, help="Processes for a full run (0: the cores, at most 4)."),
        ] = 0,
    ) -> None:
        """Verify the hash chains from their checkpoints (every event with --full); exit 1 if any
        event was altered, removed or reordered, or (--anchors) the ledger differs from its anchors."""
        from rich.progress import Progress

        from sargs.domains.consent.anchors import load_public_key, load_signing_key, verify_anchors
        from sargs.domains.consent.checkpoints import verify_incremental
        from sargs.domains.consent.verify import default_jobs

        c = container(publish=False)
        lines: list[str] = []
        public = None
        if anchors is not None:
            try:
                lines = anchors.read_text(encoding="utf-8").splitlines()
                if public_key:
                    public = load_public_key(public_key)
                else:
                    public = load_signing_key(c.settings.ledger_anchor_key).public_key()
            except OSError as exc:
                raise fail(f"cannot read {anchors}: {exc.strerror or exc}") from None
            except SargsError as exc:
                raise fail(f"{exc.message} (or give --public-key)") from None
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("verifying events", total=None)
            with c.sessions.begin() as session:  # the checkpoints move with the verification
                if c.engine.dialect.name == "postgresql":
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                report = verify_incremental(
                    session=session,
                    now=c.clock.now(),
                    full=full,
                    progress=lambda n: progress.update(task, completed=n),
                    jobs=jobs or default_jobs(),
                )
                anchored = None
                if public is not None:
                    progress.update(task, description="checking the anchors")
                    anchored = verify_anchors(session=session, lines=lines, public=public)
        failed = False
        if report.ok and report.incremental:
            console.print(
                f"[green]✓ ledger intact:[/] {report.events} new events verified in {report.subjects} subject "
                f"chains ({report.resumed} unchanged since their checkpoint; --full re-reads every event)\n"
                f"  digest {report.digest}"
            )
        elif report.ok:
            console.print(
                f"[green]✓ ledger intact:[/] {report.events} events in {report.subjects} subject chains\n"
                f"  digest {report.digest} (keep it: a later digest must extend, not contradict it)"
            )
        else:
            failed = True
            err.print(
                f"[bold red]✗ ledger tampered:[/] {len(report.problems)} problem(s) in {report.events} events"
            )
            _list(report.problems)
        if anchored is not None and anchored.ok:
            console.print(
                f"[green]✓ matches anchor #{anchored.checked}:[/] {anchored.chains} chains, {anchored.events} "
                f"events and the access log as signed ({anchored.anchors} anchors read)"
            )
        elif anchored is not None:
            failed = True
            against = f" against anchor #{anchored.checked}" if anchored.checked is not None else ""
            err.print(f"[bold red]✗ anchors:[/] {len(anchored.problems)} problem(s){against}")
            _list(anchored.problems)
        if failed:
            raise typer.Exit(1)

    @app.command("anchor")
    def anchor() -> None:
        """Verify the ledger, seal the access log, and send a signed anchor of every chain head to
        SARGS_LEDGER_ANCHOR_SINK (the worker does this on its ledger_anchor schedule)."""
        from sargs.entrypoints.anchoring import run_anchor

        c = container(publish=False)
        try:
            run = run_anchor(c)
        except SargsError as exc:
            raise fail(exc.message) from None
        a = run.anchor
        console.print(
            f"[green]✓ anchor #{a.id}:[/] {a.chains} chains, {a.events} events, access log to row "
            f"{a.access.upto}; root {a.root}\n  {run.delivered} anchor(s) delivered to {c.settings.ledger_anchor_sink}"
        )

    @app.command("anchor-key")
    def anchor_key(
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Write the private key (PEM) to this new file, readable by its owner only."
            ),
        ] = None,
    ) -> None:
        """Make an Ed25519 key for signing anchors; print its public key (give that to the auditors)."""
        from sargs.domains.consent.anchors import new_signing_key

        pem, public = new_signing_key()
        if out is None:
            console.print(pem, end="", markup=False, highlight=False)
        else:
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise fail(f"cannot create {out}: {exc.strerror or exc}") from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(pem)
            err.print(f"private key written to {out}: set SARGS_LEDGER_ANCHOR_KEY={out}", markup=False)
        err.print(f"public key: {public}", markup=False, highlight=False)

    return app


def _list(problems: list[str]) -> None:
    for problem in problems[:50]:
        err.print(f"  {problem}", markup=False, highlight=False)
    if len(problems) > 50:
        err.print(f"  … and {len(problems) - 50} more")
