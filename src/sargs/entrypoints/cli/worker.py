"""`sargs worker`: every periodic job on its schedule, and the background tasks, in one process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from functools import cache
from typing import Annotated

import typer
from rich.table import Table

from sargs.core.config import Settings
from sargs.core.errors import SargsError
from sargs.domains.jobs import periodic
from sargs.domains.sms.ports import SmsSender
from sargs.entrypoints.cli.output import console, err, fail
from sargs.entrypoints.cli.stopping import stop_on_signals
from sargs.entrypoints.container import Container
from sargs.entrypoints.worker.jobs import WorkerPorts
from sargs.entrypoints.worker.runner import Worker


def worker_ports(settings: Settings, sms_sender: Callable[[Settings], SmsSender]) -> WorkerPorts:
    """The real adapters, made when a job first needs them (a bad SMS setting fails that job only)."""
    from sargs.entrypoints.cli.web import mail_sender
    from sargs.integrations.opendsr.http import HttpCallbackPoster

    return WorkerPorts(
        sms=cache(lambda: sms_sender(settings)),
        mail=cache(lambda: mail_sender(settings)),
        callbacks=cache(HttpCallbackPoster),
    )


def add_worker_command(
    app: typer.Typer, container: Callable[..., Container], sms_sender: Callable[[Settings], SmsSender]
) -> None:
    """Register `sargs worker` on the root command."""

    @app.command()
    def worker(
        once: Annotated[
            bool,
            typer.Option("--once", help="Run the jobs due now and the queued tasks, then exit (for cron)."),
        ] = False,
        only: Annotated[
            list[str] | None,
            typer.Option("--only", help="Run only this job (repeatable; 'retention' for all sources)."),
        ] = None,
        show: Annotated[
            bool, typer.Option("--list", help="List the jobs, their schedules and last runs.")
        ] = False,
    ) -> None:
        """Run every periodic job on its schedule (SARGS_WORKER_SCHEDULE) and the background tasks.

        Several workers may share one PostgreSQL database: each due job runs in exactly one of
        them. SIGTERM stops a worker within 10 seconds; unfinished work is resumed by the next."""
        c = container()
        try:
            w = Worker(c, worker_ports(c.settings, sms_sender), only=set(only) if only else None)
        except SargsError as exc:
            raise fail(exc.message) from None
        if only and not w.jobs:
            raise fail(f"no job named {', '.join(only)}; `sargs worker --list` shows them")
        if show:
            _list(c, w)
            return
        if once:
            outcomes, tasks = w.run_once()
            for o in outcomes:
                mark = "[green]ok[/]" if o.ok else "[red]failed[/]"
                console.print(f"{o.name}: {mark} {o.summary}", highlight=False)
            console.print(f"{len(outcomes)} job(s) run, {tasks} task(s) run")
            if any(not o.ok for o in outcomes):
                raise typer.Exit(1)
            return
        with stop_on_signals(w.stop):
            w.start()
            err.print(f"worker {w.owner}: {len(w.jobs)} jobs scheduled; SIGTERM or Ctrl+C stops it")
            while not w.stop.wait(0.5):
                pass
            w.shutdown()


def _list(c: Container, w: Worker) -> None:
    with c.read_sessions.begin() as session:
        rows = {r.name: r for r in periodic.job_rows(session=session)}
    table = Table("job", "schedule", "next due (UTC)", "last run", "result", "runs", "failures")
    for name, (schedule, _) in sorted(w.jobs.items()):
        row = rows.get(name)
        when = (
            row.last_finished_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            if row and row.last_finished_at
            else ""
        )
        result = (
            ""
            if row is None or row.last_ok is None
            else ("ok" if row.last_ok else f"failed: {row.last_error}")
        )
        table.add_row(
            name,
            schedule.text,
            row.next_run_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if row else "(first run at start)",
            when,
            result,
            str(row.runs if row else 0),
            str(row.failures if row else 0),
        )
    console.print(table)
