"""The `sargs` command through Typer's runner, against a real database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container
from tests.helpers import PG_URL

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
EXAMPLES = [str(p) for p in example_policy_paths()]


def run(*args: str, url: str | None = None) -> object:
    full = (["--database-url", url] if url else []) + list(args)
    return runner.invoke(cli, full, catch_exceptions=False)


def test_policy_check_accepts_both_examples_and_lists_keywords() -> None:
    result = run("policy", "check", *EXAMPLES)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "JAUNUMI" in result.output and "lytagra-group" in result.output  # type: ignore[attr-defined]


def test_policy_check_names_file_line_and_field_of_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    source = (
        Path(EXAMPLES[0])
        .read_text(encoding="utf-8")
        .replace("legal_basis: consent", "legal_basis: consnt", 1)
    )
    bad.write_text(source, encoding="utf-8")
    line = next(i for i, text_ in enumerate(source.splitlines(), 1) if "consnt" in text_)
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    output = result.output.replace("\n", "")  # type: ignore[attr-defined]
    assert f"{bad}:{line}:5: purposes[0].legal_basis" in output
    assert "did you mean 'consent'?" in output


def test_policy_check_refuses_a_term_that_is_not_in_dpv_and_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    source = Path(EXAMPLES[0]).read_text(encoding="utf-8")
    source = source.replace("https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv#NotATerm", 1)
    bad.write_text(source, encoding="utf-8")
    line = next(i for i, text_ in enumerate(source.splitlines(), 1) if "dpv#NotATerm" in text_)
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    output = result.output.replace("\n", "")  # type: ignore[attr-defined]
    assert f"{bad}:{line}:5:" in output and "unknown DPV 2.2 term 'https://w3id.org/dpv#NotATerm'" in output


def test_policy_check_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    result = run("policy", "check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "cannot read policy file" in result.output  # type: ignore[attr-defined]


def test_token_create_prints_a_working_token_once(db_url: str) -> None:
    result = run("token", "create", "--role", "auditor", "--name", "audit", url=db_url)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    secret = result.stdout.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert secret.startswith("sargs_")
    listing = run("token", "list", url=db_url)
    assert "auditor" in listing.output and secret not in listing.output  # type: ignore[attr-defined]


def test_token_create_rejects_an_unknown_role(db_url: str) -> None:
    result = run("token", "create", "--role", "superuser", url=db_url)
    assert result.exit_code == 1 and "role must be one of" in result.output  # type: ignore[attr-defined]


def test_ledger_verify_passes_then_catches_tampering(db_url: str, container: Container) -> None:
    from sargs.entrypoints.cli.demo_data import generate

    generate(container=container, subjects=40)
    ok = run("ledger", "verify", url=db_url)
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]
    assert "ledger intact" in ok.output  # type: ignore[attr-defined]
    with container.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE consent_events SET purpose = 'loyalty' WHERE seq = (SELECT MIN(seq) FROM consent_events)"
            )
        )
    # An event before the checkpoints the first run left: only a full run re-reads it.
    bad = run("ledger", "verify", "--full", url=db_url)
    assert bad.exit_code == 1 and "altered" in bad.output  # type: ignore[attr-defined]
    again = run("ledger", "verify", url=db_url)  # the full run marked that chain failed
    assert again.exit_code == 1 and "altered" in again.output  # type: ignore[attr-defined]


@pytest.mark.skipif(bool(PG_URL), reason="creates its own SQLite file")
def test_db_upgrade_creates_the_schema_on_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert run("db", "upgrade", url=url).exit_code == 0  # type: ignore[attr-defined]
    assert run("token", "create", "--role", "admin", url=url).exit_code == 0  # type: ignore[attr-defined]


def test_serving_without_tables_tells_the_user_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(cli, ["--database-url", url, "--policy", EXAMPLES[0], "policy", "reminders"])
    assert result.exit_code == 0  # reminders need no tables
    from sargs.core.config import Settings
    from sargs.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="sargs db upgrade"):
        build(Settings(database_url=url, policy_files=[Path(EXAMPLES[0])]))


def test_serve_refuses_default_secrets_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SARGS_SECRET_KEY", raising=False)
    result = run("serve")
    assert result.exit_code == 1 and "SARGS_SECRET_KEY" in result.output  # type: ignore[attr-defined]
