"""`sargs ropa export|processors` and `sargs policy notify` through Typer's runner."""

from __future__ import annotations

import csv
import io
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


def test_the_record_of_every_controller_of_both_policies_exports_to_a_file(
    db_url: str, tmp_path: Path
) -> None:
    for controller in ("lmt", "lmt-retail", "lytagra-lv", "okainiu-zub"):
        target = tmp_path / f"{controller}.pdf"
        code, out = run(
            db_url, "ropa", "export", "--controller", controller, "--format", "pdf", "-o", str(target)
        )
        assert code == 0, out
        assert target.read_bytes().startswith(b"%PDF")
    target = tmp_path / "lmt.csv"
    code, _ = run(
        db_url, "ropa", "export", "--controller", "lmt", "--format", "csv", "--lang", "en", "-o", str(target)
    )
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert code == 0 and rows[1][0] == "lmt"
    html = tmp_path / "r.html"
    code, _ = run(db_url, "ropa", "export", "--controller", "lytagra-lv", "--format", "html", "-o", str(html))
    assert code == 0 and "Apstrādes darbību reģistrs" in html.read_text(encoding="utf-8")


def test_bad_choices_fail_clearly(db_url: str, tmp_path: Path) -> None:
    code, out = run(db_url, "ropa", "export", "--controller", "nobody", "-o", str(tmp_path / "x.pdf"))
    assert code == 1 and "unknown controller 'nobody'" in out
    code, out = run(
        db_url, "ropa", "export", "--controller", "lmt", "--format", "docx", "-o", str(tmp_path / "x")
    )
    assert code == 1 and "--format" in out
    code, out = run(db_url, "policy", "notify", "--policy", "nope")
    assert code == 1 and "unknown policy 'nope'" in out


def test_processors_and_policy_notices_from_the_command_line(db_url: str) -> None:
    code, out = run(db_url, "ropa", "processors")
    assert code == 0 and "lmt-retail: tsc TSC" in out and "in force" in out
    code, out = run(db_url, "policy", "notify", "--policy", "lmt-group")
    assert code == 0 and "queued 0 SMS" in out, out
