"""`sargs retention ...`: plans, runs, legal holds and the destruction log (R-RET-1, R-RET-2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sargs.core.errors import SargsError
from sargs.entrypoints.container import Container

console = Console()
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def retention_cli(container: Callable[..., Container]) -> typer.Typer:
    """The `retention` command group; `container` builds the process's services."""
    app = typer.Typer(help="Retention: plans, runs, legal holds, the destruction log.", no_args_is_help=True)
    hold_app = typer.Typer(help="Legal holds: what retention must not remove.", no_args_is_help=True)
    app.add_typer(hold_app, name="hold")

    @app.command("plan")
    def plan_cmd(
        policy: Annotated[str | None, typer.Option(help="Only this policy's sources.")] = None,
        source: Annotated[
            str | None, typer.Option(help="Only this source ('sargs': Sargs' own tables).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    ) -> None:
        """Dry run: per source and table, how many rows expired, why, and what a run would do."""
        from sargs.domains.retention.plan import plan

        c = container(publish=False)
        try:
            with c.read_sessions.begin() as session:
                plans = plan(
                    session=session,
                    registry=c.registry,
                    connectors=c.retention_connectors,
                    now=c.clock.now(),
                    policy_id=policy,
                    source_id=source,
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        if as_json:
            print(json.dumps([_plan_json(p) for p in plans], indent=2, ensure_ascii=False))
            return
        for p in plans:
            title = f"{p.policy_id} / {p.source_id} — as of {_when(p.as_of)} UTC"
            if p.error:
                err.print(f"[yellow]{title}: not reachable:[/] ", end="")
                err.print(p.error, markup=False, highlight=False)
                continue
            table = Table(title=title, title_justify="left")
            table.add_column("table", no_wrap=True)
            table.add_column("action", no_wrap=True)
            for name in ("expired", "destroy", "held", "archive", "blocked"):
                table.add_column(name, justify="right", no_wrap=True)
            reasons: list[str] = []
            for t in p.tables:
                n = t.counts
                table.add_row(
                    t.table,
                    t.action,
                    str(n.expired),
                    f"[bold]{n.to_purge}[/]",
                    str(n.held),
                    str(n.archive),
                    str(n.blocked),
                )
                reasons.extend(f"  {t.table}: {r}" for r in t.reasons)
            console.print(table)
            console.print(
                f"{p.source_id}: {p.to_purge} row(s) to destroy (delete or anonymise), "
                f"{p.to_archive} kept for the state archive, {p.kept} kept on hold or still referenced",
                markup=False,
                highlight=False,
            )
            for line in reasons:
                console.print(line, markup=False, highlight=False)

    @app.command("run")
    def run_cmd(
        policy: Annotated[str | None, typer.Option(help="Only this policy's sources.")] = None,
        source: Annotated[
            str | None, typer.Option(help="Only this source ('sargs': Sargs' own tables).")
        ] = None,
        batch_size: Annotated[
            int, typer.Option(help="Rows per batch (one short transaction).", min=1, max=100_000)
        ] = 1000,
        max_rows: Annotated[
            int | None, typer.Option(help="Stop after this many rows; the next run continues.", min=1)
        ] = None,
    ) -> None:
        """Purge expired rows in bounded batches; an interrupted run is resumed by the next one."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from sargs.domains.retention.coverage import retained_sources
        from sargs.domains.retention.internal import INTERNAL_SOURCE
        from sargs.domains.retention.runs import Progress as Step
        from sargs.domains.retention.runs import run_retention

        c = container(publish=False)
        try:
            targets = [
                (p.id, s.id)
                for p, s in retained_sources(registry=c.registry, policy_id=policy, source_id=source)
            ]
        except SargsError as exc:
            raise _fail(exc.message) from None
        if policy is None and source in (None, INTERNAL_SOURCE):
            targets.append((INTERNAL_SOURCE, INTERNAL_SOURCE))
        failed = False
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bars:
            tasks: dict[tuple[str, str], Any] = {}

            def show(step: Step) -> None:
                key = (step.source_id, step.table)
                if key not in tasks:
                    tasks[key] = bars.add_task(f"{step.source_id}/{step.table}", total=step.total)
                bars.update(tasks[key], completed=step.removed, total=step.total)

            for policy_id, source_id in targets:
                try:
                    report = run_retention(
                        sessions=c.sessions,
                        registry=c.registry,
                        connectors=c.retention_connectors,
                        clock=c.clock.now,
                        policy_id=policy_id,
                        source_id=source_id,
                        started_by="cli",
                        batch_size=batch_size,
                        max_rows=max_rows,
                        progress=show,
                    )
                except KeyboardInterrupt:
                    bars.stop()
                    err.print(
                        f"[yellow]interrupted[/] {policy_id}/{source_id}: run the same command to resume"
                    )
                    raise typer.Exit(130) from None
                except SargsError as exc:
                    failed = True
                    err.print(f"[red]{policy_id}/{source_id}:[/] ", end="")
                    err.print(exc.message, markup=False, highlight=False)
                    continue
                resumed = " (resumed)" if report.resumed else ""
                bars.console.print(
                    f"{policy_id}/{source_id}: run {report.id}{resumed} {report.status}, "
                    f"{report.rows_removed} rows removed"
                )
        if failed:
            raise typer.Exit(1)

    @app.command("runs")
    def runs_cmd(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
        """The latest runs: status, rows removed per table."""
        from sargs.domains.retention.history import list_runs

        c = container(publish=False)
        table = Table()
        for name in ("run", "policy/source", "status", "started (UTC)", "removed"):
            table.add_column(name, no_wrap=True)
        table.add_column("per table", overflow="fold")
        with c.read_sessions.begin() as session:
            for r in list_runs(session=session, limit=limit):
                per = ", ".join(f"{t}: {sum(v.values())}" for t, v in (r.counts or {}).items())
                table.add_row(
                    r.id[:8],
                    f"{r.policy_id}/{r.source_id}",
                    r.status,
                    _when(r.started_at),
                    str(r.rows_removed),
                    per or "—",
                )
        console.print(table)

    @app.command("log")
    def log_cmd(
        run: Annotated[str | None, typer.Option(help="Only this run's batches.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    ) -> None:
        """The destruction log: what was removed, when, under which rules, by which run."""
        from sargs.domains.retention.history import destruction_log

        c = container(publish=False)
        table = Table()
        table.add_column("when (UTC)", no_wrap=True)
        table.add_column("source/table", no_wrap=True)
        for name in ("action", "rows", "keys"):
            table.add_column(name, no_wrap=True)
        table.add_column("rules", overflow="fold")
        table.add_column("run", no_wrap=True)
        with c.read_sessions.begin() as session:
            for e in destruction_log(session=session, run_id=run, limit=limit):
                keys = f"{e.key_first}…{e.key_last}" if e.key_first is not None else "—"
                action = e.action if e.status == "done" else f"{e.action} ({e.status})"
                table.add_row(
                    _when(e.at),
                    f"{e.source_id}/{e.table_name}",
                    action,
                    str(e.rows),
                    keys,
                    e.rules,
                    e.run_id[:8],
                )
        console.print(table)

    @hold_app.command("add")
    def hold_add(
        reason: Annotated[str, typer.Option(help="Why the data must be kept (e.g. a court case).")],
        identity: Annotated[
            str | None, typer.Option(help="A person: msisdn:…, email:… or customer:…")
        ] = None,
        source: Annotated[str | None, typer.Option(help="With --table: hold a whole table.")] = None,
        table: Annotated[str | None, typer.Option(help="A declared table of --source.")] = None,
        until: Annotated[
            str | None, typer.Option(help="End date (YYYY-MM-DD); none: until released.")
        ] = None,
    ) -> None:
        """Place a legal hold on a person or a table."""
        from sargs.core.errors import InvalidInput
        from sargs.domains.retention.holds import add_hold
        from sargs.domains.subjects.identifiers import parse_identity

        c = container(publish=False)
        try:
            ends = None
            if until:
                try:
                    ends = datetime.fromisoformat(until).replace(tzinfo=UTC)
                except ValueError:
                    raise InvalidInput("until must be a date like 2027-12-31", field="until") from None
            with c.sessions.begin() as session:
                view = add_hold(
                    session=session,
                    registry=c.registry,
                    reason=reason,
                    created_by="cli",
                    now=c.clock.now(),
                    identity=parse_identity(identity, region=c.settings.default_region) if identity else None,
                    source_id=source,
                    table=table,
                    until=ends,
                )
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"hold {view.id} on {view.target}")

    @hold_app.command("list")
    def hold_list(
        show_all: Annotated[bool, typer.Option("--all", help="Also released and ended holds.")] = False,
    ) -> None:
        """Legal holds in force (identities masked)."""
        from sargs.domains.retention.holds import list_holds

        c = container(publish=False)
        table = Table()
        table.add_column("hold", no_wrap=True)
        table.add_column("on", no_wrap=True)
        table.add_column("reason", overflow="fold")
        table.add_column("until", overflow="fold")
        with c.read_sessions.begin() as session:
            for h in list_holds(session=session, now=c.clock.now(), include_released=show_all):
                ends = f"released {_when(h.released_at)}" if h.released_at else _when(h.until)
                table.add_row(h.id, h.target, f"{h.reason} ({h.created_by}, {_when(h.created_at)})", ends)
        console.print(table)

    @hold_app.command("release")
    def hold_release(hold_id: str) -> None:
        """Release a hold; the next run purges what it kept if the rules say so."""
        from sargs.domains.retention.holds import release_hold

        c = container(publish=False)
        try:
            with c.sessions.begin() as session:
                view = release_hold(session=session, hold_id=hold_id, released_by="cli", now=c.clock.now())
        except SargsError as exc:
            raise _fail(exc.message) from None
        console.print(f"released hold {view.id} on {view.target}")

    return app


def _plan_json(p: Any) -> dict[str, Any]:
    return {
        "policy": p.policy_id,
        "source": p.source_id,
        "as_of": p.as_of.isoformat(),
        "error": p.error,
        "tables": [
            {
                "table": t.table,
                "action": t.action,
                "rules": list(t.rules),
                "reasons": list(t.reasons),
                "expired": t.counts.expired,
                "to_purge": t.counts.to_purge,
                "held": t.counts.held,
                "archive": t.counts.archive,
                "blocked": t.counts.blocked,
            }
            for t in p.tables
        ],
    }
