"""`sargs policy schema` prints a JSON Schema that editors can use: the example policies validate
against it, and a typo in a key, a choice or a DPV term does not (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli

cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    result = CliRunner().invoke(cli, ["policy", "schema"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def as_editor_reads(path: Path) -> Any:
    """The YAML as JSON, as an editor's YAML server sees it (dates are strings)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.mark.parametrize("path", example_policy_paths(), ids=lambda p: p.name)
def test_the_example_policies_validate_against_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(as_editor_reads(path))]
    assert errors == []


def test_a_wrong_key_choice_period_or_dpv_term_fails_the_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    data = as_editor_reads(example_policy_paths()[0])
    data["purposes"][0]["dpv_purpose"] = "https://w3id.org/dpv#NotATerm"
    data["purposes"][1]["legal_basis"] = "consnt"
    data["purposes"][2]["colour"] = "blue"
    data["retention_rules"][0]["period"] = "ten years"
    where = {tuple(e.absolute_path)[:3] for e in validator.iter_errors(data)}
    assert where == {
        ("purposes", 0, "dpv_purpose"),
        ("purposes", 1, "legal_basis"),
        ("purposes", 2),
        ("retention_rules", 0, "period"),
    }


def test_the_schema_can_be_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "sargs-policy.schema.json"
    result = CliRunner().invoke(cli, ["policy", "schema", "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and str(out) in result.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Sargs policy file"
