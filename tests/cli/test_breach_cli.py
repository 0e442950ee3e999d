"""`sargs breach ...` against a real database: add, list, assess, notify, show, export, and clear errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli.main import make_cli

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]


def run(db_url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["--database-url", db_url, *POLICIES, *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_breach_goes_from_the_command_line_to_a_filed_notification_and_a_pdf(
    db_url: str, tmp_path: Path
) -> None:
    aware = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    code, out = run(
        db_url,
        "breach",
        "add",
        "--controller",
        "lytagra-lv",
        "--title",
        "E-veikala klientu saraksts nosūtīts nepareizam adresātam",
        "--nature",
        "Klientu saraksts ar e-pasta adresēm nosūtīts ārējam partnerim.",
        "--aware-at",
        aware,
        "--types",
        "confidentiality",
        "--data-categories",
        "name,email",
        "--subject-categories",
        "client",
        "--subjects",
        "40",
        "--tables",
        "shop.customers",
    )
    assert code == 0, out
    breach_id = re.search(r"registered breach ([0-9a-f]{32})", out).group(1)  # type: ignore[union-attr]
    code, out = run(db_url, "breach", "list")
    assert code == 0 and breach_id in out and "running" in out
    code, out = run(
        db_url,
        "breach",
        "assess",
        breach_id,
        "--risk",
        "risk",
        "--reasoning",
        "E-mail addresses could be misused.",
    )
    assert code == 0 and "status assessed" in out, out
    code, out = run(db_url, "breach", "notify", breach_id, "--reference", "DVI-2026-1")
    assert code == 0 and "initial notification" in out, out
    code, out = run(db_url, "breach", "show", breach_id)
    assert "met" in out and "notify" in out
    pdf = tmp_path / "n.pdf"
    code, out = run(db_url, "breach", "export", breach_id, "--format", "pdf", "--lang", "lv", "-o", str(pdf))
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF"), out
    target = tmp_path / "n.json"
    code, out = run(
        db_url, "breach", "export", breach_id, "--format", "json", "--lang", "en", "-o", str(target)
    )
    content = json.loads(target.read_text(encoding="utf-8"))
    assert content["breach"]["approximate_number_of_subjects"] == 40
    assert content["breach"]["breach_types"] == ["confidentiality"]
    assert content["notifications"][0]["authority_reference"] == "DVI-2026-1"


def test_an_overdue_breach_reads_overdue_by_not_a_negative_time(db_url: str) -> None:
    aware = (datetime.now(UTC) - timedelta(hours=72 + 246, minutes=40)).isoformat()
    code, out = run(
        db_url,
        *("breach", "add", "--controller", "lytagra-lv", "--title", "Zaudēts klēpjdators"),
        *("--nature", "Klēpjdators ar klientu sarakstu atstāts vilcienā.", "--aware-at", aware),
        *("--types", "confidentiality", "--data-categories", "name", "--subject-categories", "client"),
        *("--subjects", "3"),
    )
    assert code == 0, out
    breach_id = re.search(r"registered breach ([0-9a-f]{32})", out).group(1)  # type: ignore[union-attr]
    code, out = run(db_url, "breach", "list")
    assert code == 0 and "UTC  overdue by 246 h\n" in out, out
    code, out = run(db_url, "breach", "show", breach_id)
    assert "— overdue by 246 h" in " ".join(out.split()) and "-246" not in out, out


def test_bad_input_fails_with_a_message_and_exit_code_1(db_url: str) -> None:
    code, out = run(
        db_url,
        "breach",
        "add",
        "--controller",
        "lmt",
        "--title",
        "x",
        "--nature",
        "y",
        "--data-categories",
        "dna",
    )
    assert code == 1 and "unknown data category 'dna'" in out
    code, out = run(db_url, "breach", "show", "nope")
    assert code == 1 and "no breach" in out
    code, out = run(
        db_url,
        "breach",
        "add",
        "--controller",
        "lmt",
        "--title",
        "x",
        "--nature",
        "y",
        "--aware-at",
        "yesterday",
    )
    assert code == 1 and "--aware-at" in out
