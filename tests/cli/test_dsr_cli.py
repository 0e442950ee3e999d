"""`sargs dsr` through Typer's runner, against a real database and a real sample shop database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.core.config import Settings
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.service import DsrActor, lock_request, verify_identity
from sargs.domains.policy.loader import load_policy
from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.cli.main import make_cli
from sargs.integrations.sources.samples import KnownPerson, create_shop
from tests.fake_platform import served_mailer as served_mailer

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]
EMAIL = "cli.person@example.lv"
FULL = {"name": "A B", "address": "Rīga", "contact": EMAIL, "signed": True}


def run(url: str, *args: str) -> object:
    return runner.invoke(cli, ["--database-url", url, *POLICIES, *args], catch_exceptions=False)


def seed(url: str, *, age_days: int, kind: str = "access", verified: bool = False) -> str:
    c = build(
        Settings(database_url=url, demo=True), policies=[load_policy(p) for p in example_policy_paths()]
    )
    try:
        received = datetime.now(UTC) - timedelta(days=age_days)
        with c.sessions.begin() as session:
            row = file_request(
                session=session,
                registry=c.registry,
                intake=Intake(
                    controller="lytagra-lv",
                    kind=kind,
                    channel="in_person",
                    identities=[Identity("email", EMAIL)],
                    requester=FULL,
                    ground="no_longer_needed" if kind == "erasure" else None,
                ),
                actor=DsrActor("staff", "seed"),
                now=received,
            )
            if verified:
                verify_identity(
                    session=session,
                    request=lock_request(session=session, request_id=row.id),
                    method="id_document",
                    evidence={"document_type": "passport"},
                    actor=DsrActor("staff", "seed"),
                    now=received,
                )
            return row.id
    finally:
        c.close()


def test_list_due_within_and_overdue_show_only_those_requests(db_url: str) -> None:
    fresh, soon, late = seed(db_url, age_days=1), seed(db_url, age_days=26), seed(db_url, age_days=40)
    due = run(db_url, "dsr", "list", "--due-within", "7d")
    assert due.exit_code == 0, due.output  # type: ignore[attr-defined]
    assert soon in due.output and late in due.output and fresh not in due.output  # type: ignore[attr-defined]
    overdue = run(db_url, "dsr", "list", "--overdue")
    assert late in overdue.output and soon not in overdue.output and "OVERDUE" in overdue.output  # type: ignore[attr-defined]
    bad = runner.invoke(cli, ["--database-url", db_url, "dsr", "list", "--due-within", "soon"])
    assert bad.exit_code == 2 and "7d" in bad.output


def test_the_daily_reminder_names_each_request_once_a_day(db_url: str) -> None:
    rid = seed(db_url, age_days=26)
    first = run(db_url, "dsr", "remind")
    assert rid in first.output and "1 reminder(s)" in first.output  # type: ignore[attr-defined]
    again = run(db_url, "dsr", "remind")
    assert "0 reminder(s)" in again.output  # type: ignore[attr-defined]


def _queued_mail(url: str) -> list[tuple[str | None, str, str]]:
    from sqlalchemy import create_engine, select

    from sargs.domains.mail.model import MailOutbox

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(MailOutbox.to_address, MailOutbox.subject, MailOutbox.text)).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_reminder_e_mails_the_company_a_digest_without_the_requesters_data(db_url: str) -> None:
    late, soon = seed(db_url, age_days=40), seed(db_url, age_days=26)
    result = run(db_url, "dsr", "remind")
    assert "2 reminder(s); 1 e-mail(s) queued" in result.output  # type: ignore[attr-defined]
    ((to, subject, text),) = _queued_mail(db_url)
    assert to == "lytagra@lytagra.lv"  # the retailer's contact e-mail (the policy names no DPO)
    assert subject.startswith("Sargs: datu subjektu pieprasījumi — 1 nokavēti, 1 drīz jāatbild")
    assert text.index(late) < text.index(soon) and "NOKAVĒTS" in text and "OVERDUE" in text
    assert EMAIL not in text and "A B" not in text
    assert "0 e-mail(s) queued" in run(db_url, "dsr", "remind").output  # type: ignore[attr-defined]


def test_configured_staff_addresses_receive_the_reminder_instead(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db_url, age_days=40)
    monkeypatch.setenv(
        "SARGS_DSR_REMINDER_TO", "lytagra-lv:dpo@lytagra.example, desk@group.example, lmt:dpo@lmt.example"
    )
    assert "1 reminder(s); 2 e-mail(s) queued" in run(db_url, "dsr", "remind").output  # type: ignore[attr-defined]
    # the telecom's DPO never hears of the retailer's requests
    assert sorted(to for to, _, _ in _queued_mail(db_url)) == ["desk@group.example", "dpo@lytagra.example"]


def test_fulfil_runs_the_shop_with_progress_then_writes_the_answer(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served_mailer: str
) -> None:
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    create_shop(shop, people=10, now=datetime.now(UTC), known=[KnownPerson(email=EMAIL)])
    rid = seed(db_url, age_days=2, kind="erasure", verified=True)
    monkeypatch.setenv("SARGS_SOURCE_SHOP_URL", f"sqlite:///{tmp_path / 'missing' / 'shop.db'}")
    failed = runner.invoke(cli, ["--database-url", db_url, *POLICIES, "dsr", "fulfil", rid])
    assert failed.exit_code == 2 and "shop failed" in failed.output and "retry" in failed.output
    monkeypatch.setenv("SARGS_SOURCE_SHOP_URL", shop)
    waiting = run(db_url, "dsr", "fulfil", rid)
    assert waiting.exit_code == 0, waiting.output  # type: ignore[attr-defined]
    # The shop is erased; the paper archive (a manual source) waits for its keeper's task.
    assert "in_progress" in waiting.output and "sargs dsr task-done" in waiting.output  # type: ignore[attr-defined]
    wrong = run(db_url, "dsr", "task-done", rid, "shop", "--note", "done")
    assert wrong.exit_code != 0 and "paper-archive" in wrong.output  # type: ignore[attr-defined]
    done = run(db_url, "dsr", "task-done", rid, "paper-archive", "--note", "forms shredded")
    assert done.exit_code == 0, done.output  # type: ignore[attr-defined]
    assert "partially_fulfilled" in done.output  # type: ignore[attr-defined]
    shown = run(db_url, "dsr", "show", rid)
    assert "source shop: erase ok (attempts 2)" in shown.output  # type: ignore[attr-defined]
    assert "manual paper-archive: erase done" in shown.output  # type: ignore[attr-defined]
    assert "told delivery-partners by email: told" in shown.output  # type: ignore[attr-defined]
    out = tmp_path / "answer.pdf"
    answer = run(db_url, "dsr", "answer", rid, "--out", str(out), "--lang", "en")
    assert answer.exit_code == 0 and out.read_bytes().startswith(b"%PDF")  # type: ignore[attr-defined]


def test_callbacks_are_not_signed_with_the_master_secret_and_need_their_own(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SARGS_OPENDSR_CALLBACK_SECRET", raising=False)
    result = runner.invoke(cli, ["--database-url", db_url, *POLICIES, "dsr", "callbacks"])
    assert result.exit_code == 1 and "SARGS_OPENDSR_CALLBACK_SECRET" in result.output
    monkeypatch.setenv("SARGS_OPENDSR_CALLBACK_SECRET", "shared-with-receivers")
    assert "sent 0, retried 0, failed 0" in run(db_url, "dsr", "callbacks").output  # type: ignore[attr-defined]


def test_check_signature_prints_the_result_and_exits_0_1_or_2(tmp_path: Path) -> None:
    """Issue 16: valid 0, invalid 1, indeterminate 2 (no trust store); no database is needed."""
    from tests.esign_fixtures import make_esign

    esign = make_esign(tmp_path / "trust")
    signed, tampered = tmp_path / "ok.asice", tmp_path / "bad.asice"
    signed.write_bytes(esign.signed())
    tampered.write_bytes(esign.tampered())
    env = {"SARGS_ESIGN_TRUST": str(esign.trust), "SARGS_DATABASE_URL": "sqlite:///no-such-dir/x.db"}
    ok = runner.invoke(cli, ["dsr", "check-signature", str(signed)], env=env)
    assert ok.exit_code == 0, ok.output
    assert (
        ok.output.startswith("VALID") and "Juris Bērziņš" in ok.output and "PNOLV-222222-22222" in ok.output
    )
    bad = runner.invoke(cli, ["dsr", "check-signature", str(tampered), "--json"], env=env)
    assert bad.exit_code == 1
    assert '"reason": "the file pieprasijums.txt was changed after it was signed"' in bad.output
    unsure = runner.invoke(cli, ["dsr", "check-signature", str(signed)], env={"SARGS_ESIGN_TRUST": None})
    assert unsure.exit_code == 2 and "INDETERMINATE" in unsure.output
