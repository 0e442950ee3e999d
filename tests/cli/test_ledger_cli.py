"""`sargs ledger anchor-key | anchor | verify --anchors` through Typer's runner, against a real
database: the whole path an operator takes, and the one-line errors of a missing or bad key."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from sargs.domains.consent.chain import event_hash
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.subjects.model import Subject
from sargs.entrypoints.container import Container
from tests.cli.test_cli import cli
from tests.integration.test_ledger_anchors import chain

runner = CliRunner()


def run(url: str, *args: str, **env: str) -> object:
    return runner.invoke(cli, ["--database-url", url, *args], env=env, catch_exceptions=False)


def errors(result: object) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]  # type: ignore[attr-defined]


def test_anchor_key_writes_a_private_file_and_prints_the_public_key(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "anchor.pem"
    made = run(db_url, "ledger", "anchor-key", "--out", str(path))
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    assert "public key: " in made.output and path.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # type: ignore[attr-defined]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run(db_url, "ledger", "anchor-key", "--out", str(path))
    assert again.exit_code == 1 and "cannot create" in again.output  # type: ignore[attr-defined]


def test_a_missing_or_bad_key_is_one_clear_line(tmp_path: Path, db_url: str) -> None:
    sink = f"file:{tmp_path / 'a.jsonl'}"
    missing = run(db_url, "ledger", "anchor", SARGS_LEDGER_ANCHOR_SINK=sink)
    assert missing.exit_code == 1
    assert errors(missing) == [
        "error: SARGS_LEDGER_ANCHOR_KEY is not set: make a key with `sargs ledger anchor-key`"
    ]
    bad = run(db_url, "ledger", "anchor", SARGS_LEDGER_ANCHOR_SINK=sink, SARGS_LEDGER_ANCHOR_KEY="not-a-key")
    assert bad.exit_code == 1 and len(errors(bad)) == 1 and "is not an Ed25519 private key" in bad.output  # type: ignore[attr-defined]
    no_sink = run(db_url, "ledger", "anchor", SARGS_LEDGER_ANCHOR_KEY=str(tmp_path / "missing.pem"))
    assert no_sink.exit_code == 1 and errors(no_sink) == [
        f"error: SARGS_LEDGER_ANCHOR_KEY: there is no key file {tmp_path / 'missing.pem'}"
    ]
    unverifiable = run(db_url, "ledger", "verify", "--anchors", str(tmp_path / "a.jsonl"))
    assert unverifiable.exit_code == 1 and len(errors(unverifiable)) == 1  # type: ignore[attr-defined]


def test_anchor_then_a_rewrite_is_caught_by_verify_anchors(
    tmp_path: Path, db_url: str, container: Container
) -> None:
    key = tmp_path / "anchor.pem"
    run(db_url, "ledger", "anchor-key", "--out", str(key))
    anchors = tmp_path / "anchors.jsonl"
    env = {"SARGS_LEDGER_ANCHOR_KEY": str(key), "SARGS_LEDGER_ANCHOR_SINK": f"file:{anchors}"}
    victim = chain(container, "+37129000801", 120)
    chain(container, "+37129000802", 4)
    made = run(db_url, "ledger", "anchor", **env)
    assert made.exit_code == 0 and "anchor #1: 2 chains, 124 events" in made.output, made.output  # type: ignore[attr-defined]
    ok = run(db_url, "ledger", "verify", "--anchors", str(anchors), **env)
    assert ok.exit_code == 0 and "matches anchor #1" in ok.output, ok.output  # type: ignore[attr-defined]
    with container.engine.begin() as conn:  # the last 100 events re-hashed with the real hash function
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(*ConsentEvent.__table__.c)
                .where(ConsentEvent.subject_id == victim)
                .order_by(ConsentEvent.chain_seq)
            )
        ]
        prev = rows[19]["hash"]
        for row in rows[20:]:
            row.update(channel="portal", prev_hash=prev)
            row["hash"] = prev = event_hash(row)
            conn.execute(
                update(ConsentEvent)
                .where(ConsentEvent.seq == row["seq"])
                .values(channel="portal", prev_hash=row["prev_hash"], hash=row["hash"])
            )
        conn.execute(update(Subject).where(Subject.id == victim).values(chain_head=prev))
    caught = run(db_url, "ledger", "verify", "--full", "--anchors", str(anchors), **env)
    assert caught.exit_code == 1, caught.output  # type: ignore[attr-defined]
    assert "ledger intact" in caught.output and "✗ anchors: 1 problem(s) against anchor #1" in caught.output  # type: ignore[attr-defined]
    assert f"chain {victim}: event #120 is not the one anchored" in caught.output  # type: ignore[attr-defined]
    other = tmp_path / "other.pem"
    printed = run(db_url, "ledger", "anchor-key", "--out", str(other))
    public = printed.output.split("public key: ")[1].split()[0]  # type: ignore[attr-defined]
    foreign = run(db_url, "ledger", "verify", "--anchors", str(anchors), "--public-key", public)
    assert foreign.exit_code == 1 and "signed by another key" in foreign.output  # type: ignore[attr-defined]
