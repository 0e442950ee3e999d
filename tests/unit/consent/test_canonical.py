"""Canonical JSON (RFC 8785) for the event hashes, and the anchors' Merkle tree (RFC 6962): the
fast paths give the same bytes as the reference library and the reference definition."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sargs.core.errors import InvalidInput
from sargs.domains.consent import chain
from sargs.domains.consent.anchors import leaf, merkle_root
from sargs.domains.consent.chain import (
    CHAINED_FIELDS,
    UnhashableEvent,
    canonical_json,
    canonical_time,
    event_hash,
    row_hash,
    row_matches,
    seal,
)

SAFE = 2**53 - 1
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_json_is_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_canonical_json_of_the_rfc_examples() -> None:
    # RFC 8785 section 3.2.2/3.2.3: numbers in ES6 form, keys by UTF-16 code units
    assert (
        canonical_json({"b": 1e21, "a": 4.50, "c": 2e-3, "d": -0.0}) == b'{"a":4.5,"b":1e+21,"c":0.002,"d":0}'
    )
    # U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 (code points say otherwise)
    assert canonical_json({"\ufb33": 2, "\U0001f600": 1}) == '{"\U0001f600":1,"\ufb33":2}'.encode()
    assert canonical_json({"s": '\u20ac\n\x1f"\\/'}) == '{"s":"\u20ac\\n\\u001f\\"\\\\/"}'.encode()


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
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
        "recorded_at": datetime(2026, 1, 1, 12, 0, 1, 5, tzinfo=UTC),
        "policy_id": "lmt-group",
        "policy_version": "2021-01-12",
        "evidence": {"sms_message_id": "SM1"},
        "idempotency_key": None,
        "prev_hash": None,
    }
    return {**base, **changes}


def test_version_2_is_sha256_of_the_jcs_of_the_documented_fields() -> None:
    fields = event(hash_version=2)
    doc = {n: fields[n] for n in CHAINED_FIELDS} | {"hash_version": 2}
    doc["occurred_at"], doc["recorded_at"] = "2026-01-01T12:00:00.000000Z", "2026-01-01T12:00:01.000005Z"
    assert event_hash(fields) == hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def test_version_1_keeps_the_legacy_hash_of_existing_events() -> None:
    fields = event(evidence={"n": 1.0, "name": "Jānis"})
    doc = {n: fields[n] for n in CHAINED_FIELDS}
    doc["occurred_at"], doc["recorded_at"] = "2026-01-01T12:00:00.000000Z", "2026-01-01T12:00:01.000005Z"
    legacy = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert event_hash(fields) == hashlib.sha256(legacy.encode()).hexdigest()
    assert event_hash({**fields, "hash_version": 1}) == event_hash(fields)
    assert event_hash({**fields, "hash_version": 2}) != event_hash(
        fields
    )  # 1.0 is "1" in JCS, and the version is hashed


text = st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([1, 2]),
    text,
    st.none() | text,
    st.none() | text,
    st.integers(1, 10**6),
    st.dictionaries(
        text,
        st.text(max_size=6) | st.integers(-SAFE, SAFE) | st.floats(allow_nan=False, allow_infinity=False),
        max_size=4,
    )
    | st.none(),
)
def test_the_verifiers_row_hash_equals_the_event_hash(
    version: int, controller: str, actor: str | None, key: str | None, seq: int, evidence: Any
) -> None:
    fields = event(
        hash_version=version,
        controller=controller,
        actor_id=actor,
        idempotency_key=key,
        chain_seq=seq,
        evidence=evidence,
    )
    row = [fields[n] for n in CHAINED_FIELDS]
    row[CHAINED_FIELDS.index("occurred_at")] = canonical_time(fields["occurred_at"])
    row[CHAINED_FIELDS.index("recorded_at")] = canonical_time(fields["recorded_at"])
    row[CHAINED_FIELDS.index("evidence")] = json.dumps(evidence)  # as the database hands it back
    assert row_hash(row, version) == event_hash(fields)


def verifier_row(fields: dict[str, Any], evidence_text: str | None = None) -> list[Any]:
    """An event as the verifier reads it: times as canonical text, the evidence as stored JSON."""
    row = [fields[n] for n in CHAINED_FIELDS]
    row[CHAINED_FIELDS.index("occurred_at")] = canonical_time(fields["occurred_at"])
    row[CHAINED_FIELDS.index("recorded_at")] = canonical_time(fields["recorded_at"])
    row[CHAINED_FIELDS.index("evidence")] = (
        json.dumps(fields["evidence"]) if evidence_text is None else evidence_text
    )
    return row


event_fields = st.fixed_dictionaries(
    {
        "hash_version": st.sampled_from([1, 2]),
        "controller": text,
        "actor_id": st.none() | text,
        "idempotency_key": st.none() | text,
        "chain_seq": st.integers(1, 10**6),
        "evidence": st.dictionaries(
            text,
            st.text(max_size=6) | st.integers(-SAFE, SAFE) | st.floats(allow_nan=False, allow_infinity=False),
            max_size=4,
        )
        | st.none(),
    }
)
tamper = st.sampled_from(["controller", "actor_id", "idempotency_key", "chain_seq", "evidence", "version"])


@settings(max_examples=300, deadline=None)
@given(event_fields)
def test_the_fast_match_accepts_every_intact_event(changes: dict[str, Any]) -> None:
    fields = event(**changes)
    assert row_matches(verifier_row(fields), fields["hash_version"], event_hash(fields))


@settings(max_examples=300, deadline=None)
@given(event_fields, tamper, text)
def test_the_fast_match_refuses_every_changed_field(changes: dict[str, Any], name: str, other: str) -> None:
    fields = event(**changes)
    stored, version = event_hash(fields), fields["hash_version"]
    row = verifier_row(fields)
    if name == "version":
        version = 3 - version
    elif name == "chain_seq":
        row[CHAINED_FIELDS.index(name)] += 1
    elif name == "evidence":
        changed = {"changed": other}
        row[CHAINED_FIELDS.index(name)] = json.dumps(changed if changed != fields["evidence"] else {})
    else:
        position = CHAINED_FIELDS.index(name)
        if row[position] == other:
            other += "x"
        row[position] = other
    assert not row_matches(row, version, stored)


def test_plain_events_are_matched_without_the_reference_and_the_rest_by_it(monkeypatch: Any) -> None:
    calls: list[int] = []
    reference = chain.row_hash
    monkeypatch.setattr(
        chain, "row_hash", lambda row, version: calls.append(version) or reference(row, version)
    )
    plain = event(
        hash_version=2, evidence={"sms_message_id": "SM1", "keyword": "JAUNUMI"}, idempotency_key='k"1'
    )
    assert row_matches(verifier_row(plain), 2, event_hash(plain))
    assert calls == []  # orjson's bytes were the hashed bytes
    # JCS writes 1.0 as 1 and orjson as 1.0: the fast match misses and the reference decides
    floats = event(hash_version=2, evidence={"n": 1.0})
    assert row_matches(verifier_row(floats), 2, event_hash(floats))
    assert calls == [2]


def test_evidence_that_carries_another_field_is_not_matched() -> None:
    """A version-2 event relabelled as version 1, its evidence text carrying the version key the
    version-1 document lacks: the same bytes if the text were pasted in, refused as evidence."""
    fields = event(hash_version=2)
    stored = event_hash(fields)
    carried = '{"sms_message_id":"SM1"},"hash_version":2'
    assert not row_matches(verifier_row(fields, carried), 1, stored)
    assert not row_matches(verifier_row(fields, '{"sms_message_id":"SM1"} trailing'), 2, stored)
    assert row_matches(verifier_row(fields, '{"sms_message_id": "SM1"}'), 2, stored)  # spacing is not content
    assert not row_matches(verifier_row(fields), 2, None)


def test_evidence_jcs_cannot_spell_is_refused_on_write_and_an_unknown_version_is_unhashable() -> None:
    with pytest.raises(InvalidInput, match="evidence"):
        seal(event(evidence={"n": 2**60}))
    with pytest.raises(UnhashableEvent):
        event_hash(event(hash_version=3))


def _rfc6962(leaves: list[bytes]) -> bytes:
    """The Merkle Tree Hash as RFC 6962 section 2.1 defines it, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc6962(leaves[:k]) + _rfc6962(leaves[k:])).digest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33])
def test_merkle_root_is_rfc6962(n: int) -> None:
    leaves = [leaf(f"{i:032x}", i + 1, f"{i:064x}") for i in range(n)]
    assert merkle_root(leaves) == _rfc6962(leaves).hex()
