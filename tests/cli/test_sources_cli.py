"""`sargs sources check` and `sargs sources find` against a real sample shop database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli
from sargs.integrations.sources.samples import KnownPerson, create_loyalty, create_shop
from tests.fake_platform import served_mailer as served_mailer

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def run(db_url: str, *args: str) -> tuple[int, str]:
    policies = [a for p in example_policy_paths() for a in ("--policy", str(p))]
    result = runner.invoke(cli, ["--database-url", db_url, *policies, *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create_shop(url, people=30, now=NOW, known=[KnownPerson("+37129100001", "ieva@example.lv")])
    monkeypatch.setenv("SARGS_SOURCE_SHOP_URL", url)
    monkeypatch.delenv("SARGS_SOURCE_LOYALTY_URL", raising=False)
    return url


def test_check_counts_the_reachable_source_and_names_the_missing_variable(
    db_url: str, shop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served_mailer: str
) -> None:
    code, output = run(db_url, "sources", "check")
    assert code == 1
    assert "✓ shop" in output and "customers 30" in output
    assert "loyalty" in output and "set SARGS_SOURCE_LOYALTY_URL" in output
    loyalty = f"sqlite:///{tmp_path / 'loyalty.db'}"
    create_loyalty(loyalty, people=5, now=NOW)
    monkeypatch.setenv("SARGS_SOURCE_LOYALTY_URL", loyalty)
    code, output = run(db_url, "sources", "check")
    assert code == 0, output
    assert "members 5" in output and "✓ mailer" in output


def test_find_prints_row_counts_never_values(db_url: str, shop: str) -> None:
    code, output = run(db_url, "sources", "find", "email:Ieva@Example.lv", "--source", "shop")
    assert code == 0, output
    assert "shop: customers 1, orders" in output
    assert "ieva" not in output.lower() and "29100001" not in output
    code, output = run(db_url, "sources", "find", "msisdn:nonsense")
    assert code == 1 and "phone number" in output
