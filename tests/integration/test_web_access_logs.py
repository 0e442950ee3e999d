"""Website access logs (R-WEB-3) through `sargs weblog ingest | purge`: pseudonymised on the way
in, network kept only as the policy says, idempotent, bad lines counted, purged after the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.domains.web.access_logs import count_expired, purge_expired
from sargs.domains.web.model import WebAccessLog
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]


def line(ip: str, when: datetime, path: str = "/", status: int = 200) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} 512 "-" "Mozilla/5.0"\n'


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SARGS_POLICY_FILES", "SARGS_DATABASE_URL", "SARGS_IP2ASN_FILE"):
        monkeypatch.delenv(name, raising=False)


def run(db_url: str, *args: str) -> str:
    result = runner.invoke(cli, ["--database-url", db_url, *POLICIES, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def rows(container: Container) -> list[WebAccessLog]:
    with container.read_sessions.begin() as s:
        return list(s.scalars(select(WebAccessLog).order_by(WebAccessLog.requested_at)))


def test_ingest_pseudonymises_ips_counts_bad_lines_and_a_second_run_changes_nothing(
    container: Container, db_url: str, tmp_path: Path
) -> None:
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    log = tmp_path / "access.log"
    log.write_text(
        line("192.0.2.17", at, "/privatums?email=anna@example.lv")
        + "this is not a log line\n"
        + line("192.0.2.17", at)  # the same visitor, same second, twice: both kept
        + line("192.0.2.17", at)
        + line("2001:db8::1", at + timedelta(seconds=1), "/atrums", 204),
        encoding="utf-8",
    )
    out = run(db_url, "weblog", "ingest", str(log))
    assert "5 lines: 4 stored, 0 already there, 1 not understood" in out and "2" in out.split("format:")[-1]
    stored = rows(container)
    assert len(stored) == 4
    assert {r.ip_prefix for r in stored} == {"192.0.2.0/24", "2001:db8::/48"}
    assert stored[0].visitor == stored[1].visitor != stored[3].visitor
    assert all("192.0.2.17" not in (r.visitor + r.path) for r in stored)
    assert "anna" not in " ".join(r.path for r in stored)  # query strings are dropped
    assert all(r.network is None for r in stored)  # allowed, but no lookup file configured

    again = run(db_url, "weblog", "ingest", str(log))
    assert "4 stored" not in again and "0 stored, 4 already there" in again
    assert len(rows(container)) == 4


def test_the_network_is_kept_only_when_the_policy_lists_it(
    container: Container, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "ip2asn.tsv"
    table.write_text("192.0.2.0\t192.0.2.255\t64500\tLV\tEXAMPLE-ISP\n", encoding="utf-8")
    monkeypatch.setenv("SARGS_IP2ASN_FILE", str(table))
    log = tmp_path / "access.log"
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    log.write_text(line("192.0.2.17", at) + line("198.51.100.5", at), encoding="utf-8")
    run(db_url, "weblog", "ingest", str(log), "--controller", "lmt")
    assert sorted(str(r.network) for r in rows(container)) == ["AS64500 EXAMPLE-ISP", "None"]

    # The retailer's policy keeps no access logs at all.
    result = runner.invoke(
        cli, ["--database-url", db_url, *POLICIES, "weblog", "ingest", str(log), "--controller", "lytagra-lv"]
    )
    assert result.exit_code == 1 and "declares no website access logs" in result.output


def test_purge_deletes_only_lines_older_than_the_policy_period(
    container: Container, db_url: str, tmp_path: Path
) -> None:
    now = container.clock.now()  # the suite's fixed clock; the CLI uses the real one
    real_now = datetime.now(UTC)
    log = tmp_path / "access.log"
    log.write_text(
        line("192.0.2.1", real_now - timedelta(days=400))
        + line("192.0.2.2", real_now - timedelta(days=300))
        + line("192.0.2.3", real_now - timedelta(days=2)),
        encoding="utf-8",
    )
    run(db_url, "weblog", "ingest", str(log))
    assert "1 lines older than" in run(db_url, "weblog", "purge", "--dry-run")
    assert "deleted 1 lines" in run(db_url, "weblog", "purge")
    assert len(rows(container)) == 2
    with container.sessions.begin() as s:  # the functions the retention engine calls
        assert count_expired(session=s, before=now + timedelta(days=3650)) == 2
        assert purge_expired(session=s, before=now + timedelta(days=3650), limit=1) == 1
    assert len(rows(container)) == 1
