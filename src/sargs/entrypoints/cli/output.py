"""What every `sargs` command prints through: stdout, stderr, and a one-line error that exits.

Configuration and connection problems (a setting that does not validate, a file that cannot be
read, a database that cannot be opened or has no Sargs tables) are turned into that one line by
`SargsGroup`, the class of the root command, so no command needs its own try/except for them and
none shows a traceback for them. Anything else (a bug) still shows its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from sargs.core.errors import SargsError

# Text lines never wrap (a token or a command copied from a pipe or a log stays whole); tables
# still fit the terminal, or 80 columns when there is none.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# The root command's callback puts a function here giving the database URL the command uses, so
# a database error can name it (without its password).
DATABASE_URL_KEY = "sargs.database_url"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` on stderr (no markup, so paths and values print as given); raise the result."""
    err.print("[bold red]error:[/] ", end="")
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def safe_url(url: str) -> str:
    """A database URL as it may be shown: without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a database URL SQLAlchemy cannot parse)"


def problem_message(exc: BaseException, database_url: Callable[[], str | None] | None = None) -> str | None:
    """The one line for a configuration or connection problem; None for anything else (a bug)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

    if isinstance(exc, SargsError):
        return exc.message
    if isinstance(exc, OperationalError | InterfaceError):
        reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        url = _call(database_url)
        where = f"the database {safe_url(url)}" if url else "the database"
        return f"cannot use {where}: {reason} (SARGS_DATABASE_URL or --database-url)"
    if isinstance(exc, ArgumentError):
        return f"bad database URL: {exc} (SARGS_DATABASE_URL or --database-url)"
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"SARGS_{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid setting {problems}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


def _call(fn: Callable[[], str | None] | None) -> str | None:
    try:
        return fn() if fn else None
    except Exception:  # the settings themselves may be what fails
        return None


class SargsGroup(TyperGroup):
    """The root command: every command's configuration and connection problems become one line."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):  # usage errors, exits
            raise
        except Exception as exc:
            message = problem_message(exc, ctx.meta.get(DATABASE_URL_KEY))
            if message is None:
                raise
            raise fail(message) from None


def need_policies(container: Any) -> None:
    """Stop with a clear line when no policy is loaded (nothing a policy-driven command could do)."""
    if not container.registry.policies:
        raise fail(
            "no policy loaded: give --policy FILE (repeatable) or SARGS_POLICY_FILES; "
            "for the demo's, run sargs in its folder (cd .demo) or with --env-file .demo/sargs.env"
        )
