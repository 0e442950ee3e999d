from datetime import UTC, datetime

from sargs.domains.consent.chain import event_hash

BASE = {
    "id": "e1",
    "subject_id": "s1",
    "chain_seq": 1,
    "controller": "lmt",
    "purpose": "offers",
    "action": "grant",
    "channel": "sms",
    "actor_type": "subject",
    "actor_id": None,
    "occurred_at": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    "recorded_at": datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC),
    "policy_id": "lmt-group",
    "policy_version": "2021-01-12",
    "evidence": {"sms_message_id": "SM1", "b": 2},
    "idempotency_key": None,
    "prev_hash": None,
}


def test_hash_is_stable_for_equal_content_regardless_of_key_order() -> None:
    reordered = dict(reversed(list(BASE.items())))
    reordered["evidence"] = {"b": 2, "sms_message_id": "SM1"}
    assert event_hash(BASE) == event_hash(reordered)


def test_any_changed_field_changes_the_hash() -> None:
    original = event_hash(BASE)
    for name, value in [
        ("action", "withdraw"),
        ("purpose", "metadata"),
        ("occurred_at", datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC)),
        ("evidence", {"sms_message_id": "SM2", "b": 2}),
        ("prev_hash", "0" * 64),
        ("chain_seq", 2),
    ]:
        assert event_hash({**BASE, name: value}) != original, name


def test_time_zone_of_the_same_instant_does_not_change_the_hash() -> None:
    from datetime import timedelta, timezone

    riga = timezone(timedelta(hours=2))
    same_instant = datetime(2026, 1, 1, 14, 0, tzinfo=riga)
    assert event_hash({**BASE, "occurred_at": same_instant}) == event_hash(BASE)
