"""Every `sargs` command, with a database it cannot reach: one clear line naming the database, a
non-zero exit, never a traceback. The commands are found by walking the Typer app's command tree,
so a new command is covered without being listed here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli
from tests.processes import free_port

APP = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)

# Commands that touch no Sargs database: they must not trace back either, but may succeed.
NO_DATABASE = {
    "policy check",
    "policy examples",
    "policy schema",  # prints the policy file's JSON Schema
    "policy reminders",
    "ropa export",
    "ropa processors",
    "demo",  # makes its own database in --dir
    "receipts key",  # writes a key file only
    "ledger anchor-key",  # makes a signing key, nothing else
    "dsr check-signature",  # reads the file and the trust store only (issue 16)
}
# Plausible values for the required parameters, by name (the database fails before they matter).
VALUES = {
    "email": "someone@example.lv",
    "name": "Someone",
    "role": "dpo",
    "controller": "lmt",
    "policy": "telecom",
    "risk": "high",
    "ground": "protected_data",
    "identity": "msisdn:+37129123456",
    "revision": "base",
    "sender": "29123456",
    "text": "JAUNUMI",
    "purpose": "offers",
}


def commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    command = command or get_command(APP)
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def arguments(name: str, command: Any, tmp_path: Path) -> list[str]:
    """`name` with a value for each required parameter (and a quick, harmless run where it can)."""
    file = tmp_path / "input.txt"
    file.write_text("x\n", encoding="utf-8")
    args = name.split()
    for param in command.params:
        if not param.required:
            continue
        value = VALUES.get(param.name, "x")
        if param.name in ("files",):
            value = str(example_policy_paths()[0])
        elif param.name in ("output", "out"):
            value = str(tmp_path / "out.bin")
        elif param.name in ("text_file", "file"):
            value = str(file)
        if param.param_type_name == "argument":
            args.append(value)
        else:
            args += [param.opts[0], value]
    if name == "demo":
        args += ["--no-serve", "--subjects", "5", "--dir", str(tmp_path / "demo")]
    if name == "worker":
        args += ["--once"]
    if name == "serve":
        args += ["--port", str(free_port())]
    return args


UNREACHABLE = {
    "sqlite, a folder that does not exist": ("sqlite:///nonexistent-dir/x.db", "nonexistent-dir/x.db"),
    "postgresql, a closed port": (
        f"postgresql+psycopg://sargs:pw@127.0.0.1:{free_port()}/sargs",
        "127.0.0.1:",
    ),
}


def test_the_walk_finds_the_commands() -> None:
    names = {name for name, _ in commands()}
    assert {"ledger verify", "retention plan", "serve", "worker", "retention hold add", "demo"} <= names
    assert names >= NO_DATABASE, NO_DATABASE - names  # the exceptions above still exist


@pytest.mark.parametrize("case", sorted(UNREACHABLE))
def test_every_command_says_in_one_line_that_the_database_cannot_be_reached(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, named = UNREACHABLE[case]
    monkeypatch.chdir(tmp_path)
    for name in ("SARGS_SOURCE_SHOP_URL", "SARGS_SOURCE_LOYALTY_URL"):  # `sargs demo` sets them
        monkeypatch.setenv(name, "")  # recorded as unset: removed again afterwards
        monkeypatch.delenv(name)
    env = {
        "SARGS_DATABASE_URL": url,
        "SARGS_POLICY_FILES": ",".join(str(p) for p in example_policy_paths()),
        "SARGS_SECRET_KEY": "a-test-secret-key-long-enough",
        "SARGS_SMS_WEBHOOK_SECRET": "a-test-sms-secret",
        "SARGS_ENV_FILE": os.devnull,
    }
    runner = CliRunner()
    failures = []
    for name, command in commands():
        if name == "demo" and not url.startswith("sqlite"):
            continue  # it ignores the database setting: once is enough
        result = runner.invoke(APP, arguments(name, command, tmp_path), env=env, input="")
        stderr = result.stderr
        problem = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            problem = f"raised {type(result.exception).__name__}: {result.exception}"
        elif "Traceback" in result.output:
            problem = "printed a traceback"
        elif name not in NO_DATABASE:
            errors = [line for line in stderr.splitlines() if line.startswith("error:")]
            if result.exit_code == 0:
                problem = "exited 0"
            elif len(errors) != 1 or named not in errors[0] or "pw" in errors[0]:
                problem = f"no single error line naming {named!r} (without the password)"
        if problem:
            failures.append(f"sargs {name}: {problem}\n{result.output[-1500:]}")
    assert not (tmp_path / "sargs.db").exists()
    assert not failures, "\n\n".join(failures)


def test_a_missing_folder_is_named_rather_than_advising_db_upgrade(tmp_path: Path) -> None:
    env = {"SARGS_DATABASE_URL": "sqlite:///nonexistent-dir/x.db", "SARGS_ENV_FILE": os.devnull}
    result = CliRunner().invoke(APP, ["ledger", "verify"], env=env)
    assert result.exit_code == 1
    assert "nonexistent-dir does not exist" in result.stderr and "db upgrade" not in result.stderr
