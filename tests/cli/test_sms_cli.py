"""`sargs sms simulate | send | outbox` through Typer's runner, against the test database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.subjects.identifiers import mask
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container

runner = CliRunner()
cli = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)
POLICIES = [arg for p in example_policy_paths() for arg in ("--policy", str(p))]
PHONE = "+37129123456"
MASKED = "+371******56"
GRANTED_REPLY = "LMT: paldies, piekrisana JAUNUMI sanemta. Lai atsauktu, suti JAUNUMI STOP uz 29307777"
WITHDRAWN_REPLY = "LMT: piekrisana JAUNUMI atsaukta. Lai to dotu atkal, suti JAUNUMI uz 29307777"


@pytest.fixture(autouse=True)
def console_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console provider, whatever the environment says."""
    for name in ("SARGS_SMS_PROVIDER", "SARGS_SMS_PROVIDER_URL", "SARGS_POLICY_FILES", "SARGS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def run(db_url: str, *args: str) -> Result:
    return runner.invoke(cli, ["--database-url", db_url, *POLICIES, *args], catch_exceptions=False)


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare with single spaces."""
    return " ".join(text.split())


def outbox_table(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"[│|]\s*(\w+)\s*[│|]\s*(\d+)\s*[│|]", output)}


def counts(container: Container) -> tuple[int, int]:
    with container.read_sessions.begin() as s:
        return (
            s.scalar(select(func.count()).select_from(SmsInbound)) or 0,
            s.scalar(select(func.count()).select_from(SmsOutbox)) or 0,
        )


def test_the_mask_keeps_the_country_prefix_and_the_last_two_digits() -> None:
    assert mask("msisdn", PHONE) == MASKED


def test_simulate_prints_the_outcome_and_the_reply_and_queues_the_reply(
    db_url: str, container: Container
) -> None:
    result = run(db_url, "sms", "simulate", "--from", PHONE, "--text", "JAUNUMI")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "outcome: granted (grant JAUNUMI)"
    assert f"reply: {GRANTED_REPLY}" in flat(result.stdout)
    assert "(queued in the outbox; `sargs sms send` delivers it)" in result.stdout
    assert counts(container) == (1, 1)
    with container.read_sessions.begin() as s:
        [queued] = s.scalars(select(SmsOutbox))
        assert (queued.kind, queued.to_number, queued.status, queued.text) == (
            "reply",
            PHONE,
            "queued",
            GRANTED_REPLY,
        )


@pytest.mark.parametrize("bad", ["12", "not-a-number", "+3712"])
def test_simulate_with_a_bad_sender_fails_clearly_and_records_nothing(
    db_url: str, container: Container, bad: str
) -> None:
    result = run(db_url, "sms", "simulate", "--from", bad, "--text", "JAUNUMI")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: the sender ('from') is not a valid phone number"
    assert result.stdout == ""
    assert counts(container) == (0, 0)


def test_simulate_to_a_number_no_policy_declares_fails_clearly(db_url: str) -> None:
    result = run(db_url, "sms", "simulate", "--from", PHONE, "--text", "JAUNUMI", "--to", "1800")

    assert result.exit_code == 1
    assert flat(result.stderr) == ("error: no policy takes SMS keywords on this number (known: 29307777)")


def test_send_once_prints_each_text_with_the_number_masked_and_a_summary(
    db_url: str, container: Container
) -> None:
    assert run(db_url, "sms", "simulate", "--from", PHONE, "--text", "JAUNUMI").exit_code == 0
    assert run(db_url, "sms", "simulate", "--from", PHONE, "--text", "JAUNUMI STOP").exit_code == 0

    result = run(db_url, "sms", "send", "--once")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"SMS to {MASKED} from 29307777: {GRANTED_REPLY}",
        f"SMS to {MASKED} from 29307777: {WITHDRAWN_REPLY}",
        "delivered 2, to retry later 0, failed 0",
    ]
    assert PHONE not in result.output
    assert "sent 2, to retry 0, failed 0" in result.stderr
    with container.read_sessions.begin() as s:
        rows = list(s.scalars(select(SmsOutbox)))
    assert [(r.status, r.to_number) for r in rows] == [("sent", None), ("sent", None)]
    assert all(r.provider_message_id and r.provider_message_id.startswith("console-") for r in rows)


def test_send_once_with_nothing_queued_says_so(db_url: str) -> None:
    result = run(db_url, "sms", "send", "--once")
    assert result.exit_code == 0, result.output
    assert result.stdout == "delivered 0, to retry later 0, failed 0\n"


def test_send_through_http_without_a_url_fails_clearly(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARGS_SMS_PROVIDER", "http")
    monkeypatch.delenv("SARGS_SMS_PROVIDER_URL", raising=False)

    result = run(db_url, "sms", "send", "--once")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: SARGS_SMS_PROVIDER=http needs SARGS_SMS_PROVIDER_URL"


def test_outbox_shows_how_many_texts_are_in_each_state(db_url: str) -> None:
    empty = run(db_url, "sms", "outbox")
    assert empty.exit_code == 0, empty.output
    assert outbox_table(empty.stdout) == {"queued": 0, "sending": 0, "sent": 0, "failed": 0}

    for text in ("JAUNUMI", "METADATI"):
        assert run(db_url, "sms", "simulate", "--from", PHONE, "--text", text).exit_code == 0
    assert outbox_table(run(db_url, "sms", "outbox").stdout) == {
        "queued": 2,
        "sending": 0,
        "sent": 0,
        "failed": 0,
    }

    assert run(db_url, "sms", "send", "--once").exit_code == 0
    assert run(db_url, "sms", "simulate", "--from", PHONE, "--text", "HELP").exit_code == 0

    result = run(db_url, "sms", "outbox")

    assert result.exit_code == 0, result.output
    assert outbox_table(result.stdout) == {"queued": 1, "sending": 0, "sent": 2, "failed": 0}
