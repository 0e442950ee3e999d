"""`sargs sources`: check that every declared SQL or HTTP data source is reachable as its policy says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from sargs.core.errors import SargsError
from sargs.domains.dsr.fulfilment import CONNECTED_KINDS
from sargs.domains.policy.sources import DataSource
from sargs.domains.subjects.identifiers import parse_identity
from sargs.entrypoints.cli.output import console, err, fail, need_policies
from sargs.entrypoints.container import Container


def _sql_sources(c: Container, source_id: str | None = None) -> list[DataSource]:
    """The loaded policies' sql and http sources (only `source_id`, if given); a clear error when there is none."""
    need_policies(c)
    declared = [s for p in c.registry.policies for s in p.data_sources]
    sql = [s for s in declared if s.kind in CONNECTED_KINDS and source_id in (None, s.id)]
    if not sql:
        known = ", ".join(s.id for s in declared if s.kind in CONNECTED_KINDS) or "none"
        which = f"no sql or http data source {source_id!r}" if source_id else "no sql or http data source"
        raise fail(f"{which} in the loaded policies (their sql and http sources: {known})")
    return sql


def make_sources_cli(container: Callable[[], Container]) -> typer.Typer:
    """The `sources` command group; `container()` builds the services (from main's settings)."""
    app = typer.Typer(help="The organisation's own databases (policy data_sources).", no_args_is_help=True)

    @app.command("check")
    def check() -> None:
        """Reach every sql source, reflect its declared tables and columns, count their rows; check
        every http source's URL and token settings (and GET its check_path, if it declares one)."""
        c = container()
        failed = False
        try:
            for policy in c.registry.policies:
                for source in policy.data_sources:
                    if source.kind not in CONNECTED_KINDS:
                        console.print(f"- {source.id}: {source.kind} source, handled by hand")
            for source in _sql_sources(c):
                try:
                    connector = c.sources(source)
                    probe = getattr(connector, "check", None)
                    counts: dict[str, int] = probe() if probe else {}
                except SargsError as exc:
                    failed = True
                    err.print(f"[bold red]✗ {source.id}[/]: ", end="")
                    err.print(exc.message, markup=False, highlight=False)
                    continue
                if source.kind == "http" and source.http is not None:
                    reached = (
                        "answered GET " + source.http.check_path
                        if source.http.check_path
                        else ("URL and token set (declare check_path to have it reached)")
                    )
                    console.print(f"[green]✓ {source.id}[/] (http): {reached}", highlight=False)
                    continue
                rows = ", ".join(f"{t} {n:,}" for t, n in counts.items())
                console.print(f"[green]✓ {source.id}[/] ({source.url_variable}): {rows}", highlight=False)
        finally:
            c.close()
        if failed:
            raise typer.Exit(1)

    @app.command("find")
    def find(
        identity: Annotated[str, typer.Argument(help="msisdn:+371..., email:... or customer:...")],
        source_id: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    ) -> None:
        """How many rows each source holds for one person (counts only, never the values)."""
        c = container()
        try:
            ident = parse_identity(identity, region=c.settings.default_region)
            found = 0
            for source in _sql_sources(c, source_id):
                access = c.sources(source).collect(identities=[ident])
                found += access.row_count
                rows = ", ".join(f"{t.table} {len(t.rows)}" for t in access.tables)
                console.print(f"{source.id}: {rows}", highlight=False)
            if not found:
                console.print(f"no rows for {identity} in {source_id or 'any sql source'}", highlight=False)
        finally:
            c.close()

    return app
