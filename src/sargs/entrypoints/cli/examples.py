"""`sargs policy examples`: the example policies bundled with the package, listed or copied out."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)


def add_policy_examples(policy_app: typer.Typer, example_policies: Callable[[], list[Path]]) -> None:
    """Add `sargs policy examples [--copy DIR]` to the policy command group."""

    @policy_app.command("examples")
    def policy_examples(
        copy: Annotated[
            Path | None,
            typer.Option(
                "--copy", help="Copy the example policies into this directory (created if missing)."
            ),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="With --copy: overwrite files already there.")
        ] = False,
    ) -> None:
        """Print the paths of the bundled example policies (telecom, retailer), or copy them out.

        `sargs policy check $(sargs policy examples)` validates them; `--copy DIR` gives files to edit.
        """
        paths = example_policies()
        if copy is None:
            for path in paths:
                typer.echo(str(path))
            return
        copy.mkdir(parents=True, exist_ok=True)
        targets = [copy / path.name for path in paths]
        existing = [t for t in targets if t.exists()]
        if existing and not force:
            err.print("[bold red]error:[/] ", end="")
            err.print(
                f"{', '.join(str(t) for t in existing)}: already there (--force overwrites)",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(1)
        for path, target in zip(paths, targets, strict=True):
            shutil.copyfile(path, target)
            typer.echo(str(target))
