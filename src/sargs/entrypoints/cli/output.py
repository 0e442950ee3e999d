"""What every `sargs` command prints through: stdout, stderr, and a one-line error that exits."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on stderr (no markup, so paths and values print as given); raise the result."""
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)
