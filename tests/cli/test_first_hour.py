"""What a new user meets first: the settings file the demo writes, commands with nothing to work
on, a busy port, the secrets `serve` needs, output that is copied from a pipe."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.core.config import env_file_text, load_env_file
from sargs.entrypoints.cli.main import make_cli
from tests.processes import free_port

cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
runner = CliRunner()
POLICIES = ",".join(str(p) for p in example_policy_paths())
# `sargs demo` sets these in its process's environment, for its server
DEMO_SOURCE_URLS = ("SARGS_SOURCE_SHOP_URL", "SARGS_SOURCE_LOYALTY_URL")
SECRETS = {"SARGS_SECRET_KEY": "a-test-secret-key-long-enough", "SARGS_SMS_WEBHOOK_SECRET": "a-test-sms-key"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No SARGS_* setting, in an empty folder; whatever a settings file adds is removed afterwards."""
    for name in list(os.environ):
        if name.startswith("SARGS_"):
            monkeypatch.delenv(name)
    for name in ("SARGS_DATABASE_URL", "SARGS_POLICY_FILES", "SARGS_DEMO", *DEMO_SOURCE_URLS):
        monkeypatch.setenv(name, "")  # recorded as unset, so the teardown removes what a file set
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_sargs_reads_the_settings_file_in_its_folder_and_the_environment_wins(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "demo.db"
    other = tmp_path / "other.db"
    for path in (db, other):
        assert runner.invoke(cli, ["--database-url", f"sqlite:///{path}", "db", "upgrade"]).exit_code == 0
    (tmp_path / "sargs.env").write_text(
        env_file_text({"SARGS_DATABASE_URL": f"sqlite:///{db}"}, comment="test"), encoding="utf-8"
    )
    made = runner.invoke(cli, ["token", "create", "--role", "dpo", "--name", "from-the-file"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli, ["token", "list"])
    assert "from-the-file" in listed.output
    # A variable set in the environment wins over the file.
    elsewhere = runner.invoke(cli, ["token", "list"], env={"SARGS_DATABASE_URL": f"sqlite:///{other}"})
    assert elsewhere.exit_code == 0 and "from-the-file" not in elsewhere.output
    # --env-file from another folder; a file that is not there is one clear line.
    os.chdir(tmp_path.parent)
    clean_env.delenv("SARGS_DATABASE_URL")
    named = runner.invoke(cli, ["--env-file", str(tmp_path / "sargs.env"), "token", "list"])
    assert "from-the-file" in named.output
    missing = runner.invoke(cli, ["--env-file", str(tmp_path / "nope.env"), "token", "list"])
    assert missing.exit_code == 1 and errors(missing.output) == [
        f"error: no settings file {tmp_path / 'nope.env'} (--env-file or SARGS_ENV_FILE)"
    ]


def test_load_env_file_reads_back_what_env_file_text_writes(tmp_path: Path) -> None:
    values = {"SARGS_A": 'a "quoted" \\ value with spaces', "SARGS_B": "sqlite:////tmp/x y.db", "SARGS_C": ""}
    path = tmp_path / "sargs.env"
    path.write_text(env_file_text(values, comment="two\nlines"), encoding="utf-8")
    environ = {"SARGS_B": "already set"}
    assert load_env_file(path, environ) == ["SARGS_A", "SARGS_C"]
    assert environ == {"SARGS_A": values["SARGS_A"], "SARGS_B": "already set", "SARGS_C": ""}


def test_no_database_file_is_created_and_the_message_says_how_to_reach_the_demo(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["retention", "plan"])
    assert result.exit_code == 1
    [line] = errors(result.output)
    assert "sqlite:///./sargs.db" in line and "cd .demo" in line and "--env-file .demo/sargs.env" in line
    assert not (tmp_path / "sargs.db").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["ropa", "processors"],
        ["policy", "reminders"],
        ["sources", "check"],
        ["sources", "find", "msisdn:+37129123456"],
    ],
)
def test_commands_with_no_policy_say_so_and_fail(
    args: list[str], db_url: str, clean_env: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(cli, ["--database-url", db_url, *args])
    assert result.exit_code == 1, result.output
    [line] = errors(result.output)
    assert line.startswith("error: no policy loaded: give --policy FILE")


def test_sources_find_of_an_unknown_source_names_the_known_ones(
    db_url: str, clean_env: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(
        cli,
        [
            "--database-url",
            db_url,
            "--policy",
            str(example_policy_paths()[1]),
            "sources",
            "find",
            "msisdn:+37129123456",
            "--source",
            "shops",
        ],
    )
    assert result.exit_code == 1
    assert errors(result.output) == [
        "error: no sql or http data source 'shops' in the loaded policies"
        " (their sql and http sources: shop, mailer)"
    ]


def test_a_busy_port_is_one_line_before_anything_is_served(
    db_url: str, clean_env: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        served = runner.invoke(cli, ["--database-url", db_url, "serve", "--port", str(port)], env=SECRETS)
        demo = runner.invoke(cli, ["demo", "--port", str(port), "--dir", "demo"])
        workers = runner.invoke(
            cli, ["--database-url", db_url, "serve", "--port", str(port), "--workers", "2"], env=SECRETS
        )
    for result in (served, demo, workers):
        assert result.exit_code == 1, result.output
        assert errors(result.output) == [
            f"error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another with --port"
        ]
        assert "serving on" not in result.output and "Sargs demo" not in result.output


def test_serve_names_every_default_secret_at_once(db_url: str, clean_env: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli, ["--database-url", db_url, "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    [line] = errors(result.output)
    assert "SARGS_SECRET_KEY, SARGS_SMS_WEBHOOK_SECRET are the default value" in line


def test_a_settings_file_cannot_switch_off_the_secrets_check_or_set_other_variables(
    db_url: str, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "sargs.env").write_text(
        env_file_text({"SARGS_DEMO": "true", "PYTHONPATH": "/tmp/evil"}, comment="someone else's"),
        encoding="utf-8",
    )
    clean_env.delenv("PYTHONPATH", raising=False)
    result = runner.invoke(cli, ["--database-url", db_url, "serve", "--port", str(free_port())])
    assert result.exit_code == 1, result.output
    assert "ignoring SARGS_DEMO from the settings file" in result.output
    assert "SARGS_SECRET_KEY, SARGS_SMS_WEBHOOK_SECRET are the default value" in errors(result.output)[0]
    assert "PYTHONPATH" not in os.environ


def test_the_demo_writes_its_settings_and_prints_lines_that_do_not_wrap(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = runner.invoke(
        cli, ["demo", "--no-serve", "--subjects", "30", "--dir", "d"], env={"COLUMNS": None}
    )
    assert result.exit_code == 0, result.output
    # Not a terminal: 80 columns, yet every long line (a token, a curl line) stays whole.
    assert max(len(line) for line in result.stdout.splitlines()) > 120
    assert any(
        line.startswith("staff console:") and "password" in line for line in result.stdout.splitlines()
    )
    assert all(
        line.startswith("curl -s") for line in result.stdout.split("Try these:")[1].split("\n") if line
    )
    env = tmp_path / "d" / "sargs.env"
    settings: dict[str, str] = {}
    load_env_file(env, settings)
    assert settings["SARGS_DATABASE_URL"] == f"sqlite:///{tmp_path / 'd' / 'sargs-demo.db'}"
    assert settings["SARGS_POLICY_FILES"] == POLICIES and settings["SARGS_DEMO"] == "true"
    assert {"SARGS_SOURCE_SHOP_URL", "SARGS_SOURCE_LOYALTY_URL"} <= set(settings)
    # Issue 16: an e-mail request signed under the demo's own test CA verifies; a tampered copy is refused.
    assert settings["SARGS_ESIGN_TRUST"] == str(tmp_path / "d" / "esign" / "trust")
    assert (tmp_path / "d" / "esign" / "trust" / "ca.pem").is_file()
    assert "verified — valid, signer Jānis Paraugs (PNOLV-000000-00000)" in result.stdout
    assert "refused — the e-signature is invalid: the file pieprasijums.txt was changed" in result.stdout
    # In the demo's folder, sargs reaches the demo: its people, its policies, its sources.
    os.chdir(tmp_path / "d")
    phone = (
        next(line for line in result.stdout.splitlines() if line.startswith("portal:"))
        .split("sign in with ")[1]
        .split()[0]
    )
    found = runner.invoke(cli, ["sources", "find", f"msisdn:{phone}", "--source", "shop"])
    assert found.exit_code == 0, found.output
    assert found.output.startswith("shop: customers 1, orders ")
    assert runner.invoke(cli, ["ledger", "verify"]).exit_code == 0
