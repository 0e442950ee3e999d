"""The request workflow's pure rules, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.dsr import workflow as wf
from sargs.domains.policy.schema import Deadlines

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
D = Deadlines()


def test_every_open_state_reaches_only_its_next_steps() -> None:
    wf.check_transition("received", "verified")
    wf.check_transition("verified", "in_progress")
    wf.check_transition("in_progress", "partially_fulfilled")
    with pytest.raises(Conflict):
        wf.check_transition("received", "in_progress")  # work never starts before verification
    with pytest.raises(Conflict):
        wf.check_transition("on_hold", "in_progress")
    for final in wf.FINAL:
        with pytest.raises(Conflict):
            wf.check_transition(final, "received")


def test_answer_is_due_thirty_days_after_receipt_and_a_marketing_objection_within_72_hours() -> None:
    assert wf.due_date(received_at=T0, kind="access", ground=None, deadlines=D) == T0 + timedelta(days=30)
    assert wf.due_date(
        received_at=T0, kind="objection", ground="direct_marketing", deadlines=D
    ) == T0 + timedelta(hours=72)
    assert wf.due_date(
        received_at=T0, kind="objection", ground="legitimate_interest", deadlines=D
    ) == T0 + timedelta(days=30)
    assert wf.due_date(
        received_at=T0, kind="access", ground=None, deadlines=Deadlines(dsr_response_days=10)
    ) == T0 + timedelta(days=10)


def test_extension_needs_reason_and_notice_before_the_first_deadline_and_stays_within_the_maximum() -> None:
    first = T0 + timedelta(days=30)
    due, ext = wf.extend(
        first_due_at=first,
        current=None,
        days=30,
        reason="many sources",
        notice="we need more time",
        now=T0,
        deadlines=D,
    )
    assert due == first + timedelta(days=30) and ext.days == 30 and ext.notified_at == T0
    due2, ext2 = wf.extend(
        first_due_at=first,
        current=ext.as_json(),
        days=30,
        reason="still more",
        notice="sorry",
        now=T0,
        deadlines=D,
    )
    assert due2 == first + timedelta(days=60) and ext2.days == 60
    with pytest.raises(InvalidInput) as too_long:
        wf.extend(
            first_due_at=first,
            current=ext2.as_json(),
            days=1,
            reason="again",
            notice="n",
            now=T0,
            deadlines=D,
        )
    assert too_long.value.details["field"] == "days"
    with pytest.raises(InvalidInput) as no_reason:
        wf.extend(first_due_at=first, current=None, days=5, reason=" ", notice="n", now=T0, deadlines=D)
    assert no_reason.value.details["field"] == "reason"
    with pytest.raises(InvalidInput):
        wf.extend(first_due_at=first, current=None, days=5, reason="busy", notice="", now=T0, deadlines=D)
    with pytest.raises(Conflict):
        wf.extend(
            first_due_at=first,
            current=None,
            days=5,
            reason="too late",
            notice="n",
            now=first + timedelta(seconds=1),
            deadlines=D,
        )


def test_a_second_request_within_six_calendar_months_is_a_repeat() -> None:
    assert wf.months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    now = datetime(2026, 8, 31, tzinfo=UTC)
    assert wf.is_repeat(previous_received=[datetime(2026, 3, 1, tzinfo=UTC)], received_at=now, deadlines=D)
    assert not wf.is_repeat(
        previous_received=[datetime(2026, 2, 27, tzinfo=UTC)], received_at=now, deadlines=D
    )
    assert not wf.is_repeat(previous_received=[], received_at=now, deadlines=D)
    assert not wf.is_repeat(
        previous_received=[now], received_at=now, deadlines=Deadlines(repeat_request_months=0)
    )


def test_repeat_decision_names_the_fee_or_the_reason() -> None:
    assert wf.check_repeat_decision("free", fee=None, reason=None)["decision"] == "free"
    assert wf.check_repeat_decision("fee", fee="10 EUR", reason=None)["fee"] == "10 EUR"
    with pytest.raises(InvalidInput):
        wf.check_repeat_decision("fee", fee=" ", reason=None)
    with pytest.raises(InvalidInput):
        wf.check_repeat_decision("refuse", fee=None, reason="")
    with pytest.raises(InvalidInput):
        wf.check_repeat_decision("maybe", fee=None, reason=None)


def test_required_content_of_retailer_3_4_1_is_checked_per_channel() -> None:
    full = {"name": "Anna Ozola", "address": "Rīga", "contact": "anna@example.lv", "signed": True}
    assert wf.missing_content(channel="post", requester=full, kind="access", details="") == []
    assert wf.missing_content(
        channel="post", requester={**full, "signed": False}, kind="access", details=""
    ) == ["signed"]
    assert (
        wf.missing_content(
            channel="portal", requester={"name": "A", "address": "R"}, kind="erasure", details=""
        )
        == []
    )
    assert set(wf.missing_content(channel="email", requester={}, kind="rectification", details="")) == {
        "name",
        "address",
        "contact",
        "details",
        "signed",
    }


def test_verification_method_must_fit_the_channel_and_name_its_evidence() -> None:
    ev = wf.check_evidence(channel="in_person", method="id_document", evidence={"document_type": "passport"})
    assert ev == {"document_type": "passport"}
    with pytest.raises(InvalidInput) as wrong:
        wf.check_evidence(channel="post", method="id_document", evidence={"document_type": "passport"})
    assert wrong.value.details["field"] == "method"
    with pytest.raises(InvalidInput) as nonprofit:
        wf.check_evidence(
            channel="representative",
            method="authorisation",
            evidence={
                "representative_name": "Biedrība X",
                "representative_kind": "nonprofit",
                "document": "pilnvara 1",
            },
        )
    assert nonprofit.value.details["field"] == "registration_number"
    ok = wf.check_evidence(
        channel="representative",
        method="authorisation",
        evidence={
            "representative_name": "Biedrība X",
            "representative_kind": "nonprofit",
            "document": "pilnvara 1",
            "registration_number": "40008000000",
        },
    )
    assert ok["representative_kind"] == "nonprofit"
    with pytest.raises(InvalidInput) as bad_hash:
        wf.check_evidence(
            channel="email", method="e_signature", evidence={"file_name": "a.edoc", "sha256": "abc"}
        )
    assert bad_hash.value.details["field"] == "sha256"


def test_opendsr_statuses_map_from_ours() -> None:
    assert [wf.opendsr_status(s) for s in wf.STATES] == [
        "pending",
        "pending",
        "pending",
        "in_progress",
        "completed",
        "completed",
        "completed",
        "cancelled",
    ]
