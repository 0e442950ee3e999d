"""`sargs retention` through Typer's runner: plan, run, runs, log and holds on a real source database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli
from tests.retention_sources import loyalty_tables

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]
NOW = datetime.now(UTC)


@pytest.fixture
def loyalty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    monkeypatch.setenv("SARGS_SOURCE_LOYALTY_URL", url)
    monkeypatch.delenv("SARGS_SOURCE_SHOP_URL", raising=False)
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    t = loyalty_tables(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for i in range(1, 8):
            old = i <= 5  # members 1-5: last transaction three years ago; 6-7: last month
            when = NOW - timedelta(days=3 * 365 if old else 30)
            conn.execute(
                t["members"].insert(),
                {"id": i, "msisdn": f"+3712900{i:04d}", "full_name": f"M {i}", "joined_at": when},
            )
            conn.execute(t["transactions"].insert(), {"id": i, "member_id": i, "finished_at": when})
    yield engine
    engine.dispose()


def sargs(db_url: str, *args: str) -> Any:
    return runner.invoke(
        cli, ["--database-url", db_url, *POLICIES, "retention", *args], catch_exceptions=False
    )


def test_plan_then_run_then_log_on_the_telecom_loyalty_source(db_url: str, loyalty: sa.Engine) -> None:
    result = sargs(db_url, "plan", "--policy", "lmt-group", "--json")
    assert result.exit_code == 0, result.output
    (plan,) = json.loads(result.stdout)
    counts = {t["table"]: (t["expired"], t["to_purge"]) for t in plan["tables"]}
    assert counts == {"transactions": (5, 5), "members": (5, 5)}

    shown = sargs(db_url, "plan", "--policy", "lmt-group")
    assert "loyalty-two-years" in shown.stdout and "members" in shown.stdout

    ran = sargs(db_url, "run", "--policy", "lmt-group", "--batch-size", "2")
    assert ran.exit_code == 0, ran.output
    assert "finished, 10 rows removed" in ran.output
    with loyalty.connect() as conn:
        assert conn.execute(sa.text("select id from members order by id")).scalars().all() == [6, 7]

    log = sargs(db_url, "log")
    assert log.exit_code == 0 and "transactions" in log.stdout and "members" in log.stdout
    runs = sargs(db_url, "runs")
    assert "finished" in runs.stdout and "lmt-group/loyalty" in runs.stdout


def test_a_source_without_its_url_is_named_in_the_plan_and_fails_the_run(
    db_url: str, loyalty: sa.Engine
) -> None:
    shown = sargs(db_url, "plan", "--source", "shop")
    assert "SARGS_SOURCE_SHOP_URL" in shown.output
    ran = sargs(db_url, "run", "--source", "shop")
    assert ran.exit_code == 1 and "SARGS_SOURCE_SHOP_URL" in ran.output


def test_holds_are_added_listed_and_released_and_bad_input_names_the_problem(
    db_url: str, loyalty: sa.Engine
) -> None:
    added = sargs(db_url, "hold", "add", "--identity", "msisdn:+37129000001", "--reason", "court case 7/2026")
    assert added.exit_code == 0, added.output
    hold_id = added.stdout.split()[1]
    listed = sargs(db_url, "hold", "list")
    assert hold_id in listed.stdout and "+37129000001" not in listed.stdout  # masked
    plan = json.loads(sargs(db_url, "plan", "--policy", "lmt-group", "--json").stdout)[0]
    assert {t["table"]: t["held"] for t in plan["tables"]} == {"transactions": 1, "members": 1}

    assert sargs(db_url, "hold", "release", hold_id).exit_code == 0
    again = sargs(db_url, "hold", "release", hold_id)
    assert again.exit_code == 1 and "already released" in again.output
    bad = sargs(db_url, "hold", "add", "--source", "loyalty", "--table", "nope", "--reason", "audit")
    assert bad.exit_code == 1 and "no table 'nope'" in bad.output
    bad_date = sargs(
        db_url, "hold", "add", "--identity", "msisdn:+37129000001", "--reason", "audit", "--until", "soon"
    )
    assert bad_date.exit_code == 1 and "until" in bad_date.output
    unknown = sargs(db_url, "plan", "--policy", "nope")
    assert unknown.exit_code == 1 and "unknown policy 'nope'" in unknown.output


def test_the_retailer_plan_shows_what_is_destroyed_and_what_is_kept_for_the_state_archive(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.retention_sources import Shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("SARGS_SOURCE_SHOP_URL", url)
    engine = sa.create_engine(url)
    shop, old = Shop(engine), NOW - timedelta(days=11 * 365)
    for cid in (1, 2):
        shop.customer(cid, created_at=old)
    shop.add("orders", *({"id": 10 + i, "customer_id": 1, "placed_at": old} for i in range(3)))
    shop.add("loyalty_transactions", {"id": 1, "customer_id": 2, "occurred_at": old})
    engine.dispose()

    shown = sargs(db_url, "plan", "--source", "shop")
    assert shown.exit_code == 0, shown.output
    # customers 1 and 2 anonymised, the loyalty row deleted; the three orders go to the archive
    assert "shop: 3 row(s) to destroy (delete or anonymise), 3 kept for the state archive" in shown.stdout
    assert "orders: service-ten-years: placed_at on or before" in shown.stdout
    assert "kept for the state archive (R 2.5)" in shown.stdout
    (planned,) = json.loads(sargs(db_url, "plan", "--source", "shop", "--json").stdout)
    counts = {t["table"]: (t["to_purge"], t["archive"]) for t in planned["tables"]}
    assert counts == {
        "orders": (0, 3),
        "loyalty_transactions": (1, 0),
        "email_events": (0, 0),
        "customers": (2, 0),
    }
