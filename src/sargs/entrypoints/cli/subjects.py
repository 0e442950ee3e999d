"""`sargs subjects`: client groups and identities from the organisation's own systems (issue 19).

`import FILE` reads CSV or NDJSON and `sync` reads the policies' client-group sources; both go
through sargs.domains.subjects.groups (batches of one transaction each, idempotent, bad rows named
by line while the rest land).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from sargs.core.errors import InvalidInput, SargsError
from sargs.domains.subjects.groups import GroupReport, RowError, apply_records
from sargs.domains.subjects.records import IDENTITY_FIELDS
from sargs.domains.subjects.sync import declared_sources, find_source, sync_source
from sargs.entrypoints.cli.output import console, err, fail
from sargs.entrypoints.container import Container

RECORD_FIELDS = frozenset({*IDENTITY_FIELDS, "controller", "client_group", "group"})
SHOWN_ERRORS = 100


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read through it (the progress bar's position)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.pos = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.pos += n or 0
        return n or 0


def _csv_records(text: IO[str]) -> Iterator[tuple[int, Mapping[str, Any] | SargsError]]:
    reader = csv.DictReader(text)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in RECORD_FIELDS]
    if unknown or not set(header) & set(IDENTITY_FIELDS):
        raise InvalidInput(
            f"line 1: the header must name identity columns ({', '.join(sorted(IDENTITY_FIELDS))}) and may add "
            f"controller, client_group; unknown: {', '.join(unknown) or 'no identity column'}"
        )
    reader.fieldnames = header
    last = reader.line_num
    for row in reader:
        start, last = last + 1, reader.line_num
        if None in row:
            yield start, InvalidInput(f"more values than the header's {len(header)} columns")
        else:
            yield start, row


def _ndjson_records(text: IO[str]) -> Iterator[tuple[int, Mapping[str, Any] | SargsError]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidInput(f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield number, InvalidInput("each line must be a JSON object")
            continue
        unknown = sorted(set(record) - RECORD_FIELDS - {"groups"})
        if unknown:
            yield number, InvalidInput(f"unknown field(s): {', '.join(unknown)}")
            continue
        yield number, record


def read_file(
    path: Path, fmt: str | None
) -> tuple[Iterator[tuple[int, Mapping[str, Any] | SargsError]], Callable[[], int]]:
    """The file's records and a function telling how many bytes were read so far."""
    kind = fmt or (
        "csv"
        if path.suffix.lower() == ".csv"
        else "ndjson"
        if path.suffix.lower() in (".ndjson", ".jsonl")
        else ""
    )
    if kind not in ("csv", "ndjson"):
        raise InvalidInput("name the format: --format csv or --format ndjson (or use .csv / .ndjson)")
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    counting = _Counting(raw)
    text = io.TextIOWrapper(io.BufferedReader(counting, 1 << 16), encoding="utf-8-sig", newline="")

    def records() -> Iterator[tuple[int, Mapping[str, Any] | SargsError]]:
        try:
            yield from (_csv_records(text) if kind == "csv" else _ndjson_records(text))
        except UnicodeDecodeError:  # a bad byte anywhere ends the read: the rows before it have landed
            raise InvalidInput("the file is not UTF-8 text") from None
        finally:
            text.close()

    return records(), lambda: counting.pos


def _print_report(report: GroupReport, *, dry_run: bool, shown: int) -> None:
    if report.failed > shown:
        err.print(f"... and {report.failed - shown} more bad rows", highlight=False)
    verb = "would change" if dry_run else "changed"
    if report.changed == 0 and report.lapsed == 0 and report.failed and report.failed == report.rows:
        console.print(
            f"nothing changed: every row failed ({report.summary()})", highlight=False, soft_wrap=True
        )
    elif report.changed == 0 and report.lapsed == 0:
        console.print(f"nothing to change ({report.summary()})", highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{'dry run: ' if dry_run else ''}{verb}: {report.summary()}", highlight=False, soft_wrap=True
        )


def make_subjects_cli(container: Callable[[], Container]) -> typer.Typer:
    """The `subjects` command group; `container()` builds the services (from main's settings)."""
    app = typer.Typer(
        help="People's identities and client groups from the organisation's systems.", no_args_is_help=True
    )

    @app.command("import")
    def import_(
        file: Annotated[
            Path,
            typer.Argument(help="CSV (header: msisdn,email,customer,controller,client_group) or NDJSON."),
        ],
        controller: Annotated[str | None, typer.Option(help="Controller for rows that name none.")] = None,
        fmt: Annotated[
            str | None, typer.Option("--format", help="csv or ndjson (default: from the file name).")
        ] = None,
        batch: Annotated[int, typer.Option(min=1, max=50_000, help="Rows per transaction.")] = 2000,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
        ] = False,
    ) -> None:
        """Put people in client groups (creating them, adding identities); the same file again changes nothing."""
        c = container()
        shown = 0

        def bad(e: RowError) -> None:
            nonlocal shown
            if shown < SHOWN_ERRORS:
                shown += 1
                err.print(f"line {e.line}: ", end="", highlight=False)
                err.print(e.reason, markup=False, highlight=False)

        try:
            records, position = read_file(file, fmt)
            size = file.stat().st_size
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[rows]} rows"),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task("import", total=size or 1, rows=0)
                report = apply_records(
                    sessions=c.sessions,
                    registry=c.registry,
                    records=records,
                    clock=c.clock.now,
                    by="import",
                    region=c.settings.default_region,
                    controller=controller,
                    batch_size=batch,
                    dry_run=dry_run,
                    on_error=bad,
                    on_batch=lambda r: progress.update(task, completed=position(), rows=r.rows),
                )
        except SargsError as exc:
            raise fail(exc.message) from None
        finally:
            c.close()
        _print_report(report, dry_run=dry_run, shown=shown)
        if report.failed:
            raise typer.Exit(1)

    @app.command("sync")
    def sync(
        source: Annotated[
            str | None, typer.Option(help="Only this client-group source (id or policy/id).")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
        ] = False,
    ) -> None:
        """Read each client-group source the policies declare and apply joins and leaves."""
        c = container()
        failed = False
        try:
            chosen = [find_source(c.registry, source)] if source else declared_sources(c.registry)
            if not chosen:
                raise fail("no client_group_sources declared in the loaded policies: nothing to sync")
            for policy, src in chosen:
                try:
                    report = sync_source(
                        sessions=c.sessions,
                        registry=c.registry,
                        policy=policy,
                        source=src,
                        rows=c.client_rows(src),
                        clock=c.clock.now,
                        region=c.settings.default_region,
                        dry_run=dry_run,
                    )
                except SargsError as exc:
                    failed = True
                    err.print(f"[bold red]✗ {policy.id}/{src.id}[/]: ", end="")
                    err.print(exc.message, markup=False, highlight=False)
                    continue
                for e in report.errors[:SHOWN_ERRORS]:
                    err.print(f"{policy.id}/{src.id} row {e.line}: ", end="", highlight=False)
                    err.print(e.reason, markup=False, highlight=False)
                console.print(f"{policy.id}/{src.id} → {src.controller}:{src.group}", highlight=False)
                _print_report(report, dry_run=dry_run, shown=min(len(report.errors), SHOWN_ERRORS))
                if report.leaves_held:
                    err.print(f"[bold yellow]! {policy.id}/{src.id}[/]: leaves held: ", end="")
                    err.print(report.leaves_held, markup=False, highlight=False)
                failed = failed or report.failed > 0 or report.leaves_held is not None
        except SargsError as exc:
            raise fail(exc.message) from None
        finally:
            c.close()
        if failed:
            raise typer.Exit(1)

    return app
