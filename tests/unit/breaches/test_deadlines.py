"""The 72-hour clock and the filing rules (GDPR Art. 33(1), 33(4), 34(3)), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.breaches.deadlines import (
    check_close,
    check_exemption,
    check_filing,
    check_reasoning,
    clock,
    remaining_text,
)

AWARE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_the_clock_runs_72_hours_from_awareness_and_turns_overdue_after() -> None:
    running = clock(
        aware_at=AWARE, hours=72, now=AWARE + timedelta(hours=24, minutes=30), risk=None, first_filed_at=None
    )
    assert running.due_at == AWARE + timedelta(hours=72)
    assert running.state == "running" and running.remaining_seconds == (47 * 3600 + 30 * 60)
    assert running.remaining_text() == "47 h 30 min"
    overdue = clock(
        aware_at=AWARE, hours=72, now=AWARE + timedelta(hours=75), risk="high", first_filed_at=None
    )
    assert (
        overdue.state == "overdue" and overdue.overdue and overdue.remaining_text() == "overdue by 3 h 00 min"
    )


def test_the_clock_follows_the_policys_hours() -> None:
    c = clock(aware_at=AWARE, hours=24, now=AWARE, risk=None, first_filed_at=None)
    assert c.due_at == AWARE + timedelta(hours=24)


def test_once_filed_the_clock_stops_at_the_filing_time_met_or_late() -> None:
    met = clock(
        aware_at=AWARE,
        hours=72,
        now=AWARE + timedelta(days=30),
        risk="risk",
        first_filed_at=AWARE + timedelta(hours=70),
    )
    assert met.state == "met" and met.remaining_seconds == 2 * 3600
    late = clock(
        aware_at=AWARE,
        hours=72,
        now=AWARE + timedelta(days=30),
        risk="risk",
        first_filed_at=AWARE + timedelta(hours=73),
    )
    assert late.state == "late" and late.overdue


def test_no_risk_means_no_notification_is_due() -> None:
    c = clock(aware_at=AWARE, hours=72, now=AWARE + timedelta(hours=100), risk="none", first_filed_at=None)
    assert c.state == "not_required" and not c.overdue


def _file(**kw: object) -> bool:
    args: dict[str, object] = {
        "aware_at": AWARE,
        "hours": 72,
        "filed_at": AWARE + timedelta(hours=10),
        "phase": "initial",
        "earlier_phases": [],
        "risk": "risk",
        "delay_reasons": None,
    }
    args.update(kw)
    return check_filing(**args)  # type: ignore[arg-type]


def test_a_filing_in_time_needs_no_reasons_and_is_not_late() -> None:
    assert _file() is False
    assert _file(filed_at=AWARE + timedelta(hours=72)) is False


def test_a_late_filing_requires_the_reasons_for_the_delay() -> None:
    with pytest.raises(InvalidInput) as err:
        _file(filed_at=AWARE + timedelta(hours=72, seconds=1))
    assert err.value.details["field"] == "delay_reasons"
    assert (
        _file(filed_at=AWARE + timedelta(hours=80), delay_reasons="Forensic analysis took four days.") is True
    )


def test_phases_go_initial_then_follow_ups_then_final_and_nothing_after() -> None:
    with pytest.raises(Conflict, match="initial notification first"):
        _file(phase="follow_up")
    with pytest.raises(Conflict, match="already filed"):
        _file(phase="initial", earlier_phases=["initial"])
    assert _file(phase="follow_up", earlier_phases=["initial"], filed_at=AWARE + timedelta(days=9)) is False
    assert _file(phase="final", earlier_phases=["initial", "follow_up"]) is False
    with pytest.raises(Conflict, match="final notification was already filed"):
        _file(phase="follow_up", earlier_phases=["initial", "final"])
    with pytest.raises(InvalidInput):
        _file(phase="later")


def test_no_notification_before_assessment_or_when_the_risk_is_none() -> None:
    with pytest.raises(Conflict, match="assess the risk"):
        _file(risk=None)
    with pytest.raises(Conflict, match="no notification is needed"):
        _file(risk="none")
    with pytest.raises(InvalidInput, match="before the controller became aware"):
        _file(filed_at=AWARE - timedelta(minutes=1))


def test_risk_levels_come_with_their_reasoning() -> None:
    assert (
        check_reasoning(risk="none", reasoning="  Encrypted laptop, key not lost.  ")
        == "Encrypted laptop, key not lost."
    )
    with pytest.raises(InvalidInput) as err:
        check_reasoning(risk="high", reasoning="bad")
    assert err.value.details["field"] == "reasoning"
    with pytest.raises(InvalidInput):
        check_reasoning(risk="medium", reasoning="a long enough reasoning")


def test_exemptions_name_an_art_34_3_ground_and_explain_it() -> None:
    assert (
        check_exemption(ground="protected_data", explanation="AES-256 encrypted backup tape")
        == "AES-256 encrypted backup tape"
    )
    with pytest.raises(InvalidInput):
        check_exemption(ground="too_busy", explanation="a long enough explanation")
    with pytest.raises(InvalidInput):
        check_exemption(ground="risk_removed", explanation="")


def test_closing_needs_assessment_notification_and_for_high_risk_the_people_told() -> None:
    with pytest.raises(Conflict):
        check_close(status="open", risk=None, phases=[], subjects_handled=False)
    check_close(status="assessed", risk="none", phases=[], subjects_handled=False)
    with pytest.raises(Conflict, match="notify the authority"):
        check_close(status="assessed", risk="risk", phases=[], subjects_handled=False)
    with pytest.raises(Conflict, match="people concerned"):
        check_close(status="notified", risk="high", phases=["initial"], subjects_handled=False)
    check_close(status="notified", risk="high", phases=["initial"], subjects_handled=True)
    with pytest.raises(Conflict):
        check_close(status="closed", risk="none", phases=[], subjects_handled=True)


@pytest.mark.parametrize(
    ("seconds", "language", "text"),
    [
        (47 * 3600 + 12 * 60, "en", "47 h 12 min"),
        (47 * 3600 + 12 * 60, "lv", "47 h 12 min"),
        (0, "en", "0 h 00 min"),
        (-(3 * 3600 + 5 * 60), "en", "overdue by 3 h 05 min"),
        (-(3 * 3600 + 5 * 60), "lv", "nokavēts par 3 h 05 min"),
        (-(23 * 3600 + 59 * 60), "en", "overdue by 23 h 59 min"),
        (-24 * 3600, "en", "overdue by 24 h"),
        (-(246 * 3600 + 40 * 60), "en", "overdue by 246 h"),
        (-(246 * 3600 + 40 * 60), "lv", "nokavēts par 246 h"),
    ],
)
def test_a_clock_past_its_deadline_reads_overdue_by_never_a_negative_time(
    seconds: int, language: str, text: str
) -> None:
    assert remaining_text(seconds, language) == text
    assert "-" not in remaining_text(seconds, language)
