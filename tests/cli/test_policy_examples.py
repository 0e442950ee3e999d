"""`sargs policy examples` and `sargs --version`: what an installed package offers without a source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sargs
from sargs.bootstrap import build, create_app, example_policy_paths, main, sms_sender
from sargs.entrypoints.cli.main import make_cli

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
PACKAGE = Path(sargs.__file__).resolve().parent


def test_examples_are_package_data_inside_sargs() -> None:
    paths = example_policy_paths()
    assert [p.name for p in paths] == ["telecom.yaml", "retailer.yaml"]
    for path in paths:
        assert path.resolve().is_relative_to(PACKAGE / "examples") and path.is_file()


def test_policy_examples_prints_one_path_per_line_for_policy_check() -> None:
    result = runner.invoke(cli, ["policy", "examples"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(p) for p in example_policy_paths()]
    checked = runner.invoke(cli, ["policy", "check", *result.output.splitlines()], catch_exceptions=False)
    assert checked.exit_code == 0, checked.output


def test_policy_examples_copy_writes_editable_files_and_keeps_existing_ones(tmp_path: Path) -> None:
    target = tmp_path / "policies"
    result = runner.invoke(cli, ["policy", "examples", "--copy", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["retailer.yaml", "telecom.yaml"]
    assert (target / "telecom.yaml").read_bytes() == example_policy_paths()[0].read_bytes()

    (target / "telecom.yaml").write_text("# mine\n", encoding="utf-8")
    again = runner.invoke(cli, ["policy", "examples", "--copy", str(target)], catch_exceptions=False)
    assert again.exit_code == 1 and "already there" in again.output
    assert (target / "telecom.yaml").read_text(encoding="utf-8") == "# mine\n"
    forced = runner.invoke(cli, ["policy", "examples", "--copy", str(target), "--force"])
    assert forced.exit_code == 0 and (target / "telecom.yaml").read_bytes() != b"# mine\n"


def test_version_comes_from_pyproject_and_sargs_version_prints_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8"))
    assert sargs.__version__ == pyproject["project"]["version"]
    monkeypatch.setattr("sys.argv", ["sargs", "--version"])
    main()
    assert capsys.readouterr().out == f"sargs {sargs.__version__}\n"
