"""`sargs policy schema`: the policy file's JSON Schema, for editors' completion and checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sargs.domains.policy.editor_schema import policy_json_schema


def add_policy_schema(policy_app: typer.Typer) -> None:
    """Add `sargs policy schema [--output FILE]` to the policy command group."""

    @policy_app.command("schema")
    def policy_schema(
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write the schema to this file.")
        ] = None,
    ) -> None:
        """Print the JSON Schema of a policy file (docs/policy-schema.md: VS Code, other editors)."""
        text = json.dumps(policy_json_schema(), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        typer.echo(str(output))
