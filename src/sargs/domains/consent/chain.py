"""The hash chain over consent events: pure functions, no database (docs/ledger.md).

An event's hash is SHA-256 over a JSON document of its chained fields, `prev_hash` (the hash of
the subject's previous event, null for the first) included. Each event records the version of
that document in `hash_version`:

- **1** (events written before the anchored ledger): the fields below, keys sorted, no spaces,
  non-ASCII characters as themselves (Python's `json.dumps(sort_keys=True, ensure_ascii=False,
  separators=(",", ":"))`). Kept as it was: re-hashing old events would erase the evidence.
- **2** (every event written since): the same fields plus `"hash_version": 2`, serialised as
  RFC 8785 (JSON Canonicalization Scheme), so anyone can recompute it with a JCS library and
  no Sargs code. A chain switches from 1 to 2 at its first event written after the upgrade;
  the version is itself hashed, so it cannot be relabelled.

Times are text `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, always six fraction digits) in both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import orjson
import rfc8785

from sargs.core.errors import InvalidInput

CHAINED_FIELDS = (
    "id",
    "subject_id",
    "chain_seq",
    "controller",
    "purpose",
    "action",
    "channel",
    "actor_type",
    "actor_id",
    "occurred_at",
    "recorded_at",
    "policy_id",
    "policy_version",
    "evidence",
    "idempotency_key",
    "prev_hash",
)
EVIDENCE = CHAINED_FIELDS.index("evidence")
HASH_VERSIONS = (1, 2)
CURRENT_VERSION = 2
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MAX_SAFE_INTEGER = 2**53 - 1  # JCS numbers are IEEE doubles: larger integers are refused

_orjson_loads, _orjson_dumps, _SORTED = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
# Sorted compact JSON, non-ASCII as itself: what the legacy hash used (json.dumps(sort_keys=True,
# ensure_ascii=False, separators=(",", ":")), NaN allowed as there), through CPython's C encoder
# built once (json.dumps builds one per call, which costs more than the encoding here).


def _unencodable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


_encoder = c_make_encoder(None, _unencodable, encode_basestring, None, ":", ",", True, False, True)


def _dumps(value: Any) -> str:
    return "".join(_encoder(value, 0))


class UnhashableEvent(ValueError):
    """An event cannot be hashed: it names an unknown hash version, or (version 2) its evidence
    holds a number RFC 8785 cannot spell exactly (an integer beyond 2^53, NaN, infinity)."""


class UnknownHashVersion(UnhashableEvent):
    """An event names a hash version this code does not know."""


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return canonical_time(value)
    return value


def _plain(value: Any) -> bool:
    """True if Python's sorted compact JSON of `value` is byte for byte its RFC 8785 form: only
    strings, booleans, null, safe integers, lists, and objects with ASCII keys (JCS sorts keys by
    UTF-16 code units, the same order as code points for ASCII; numbers other than safe integers
    have their own JCS spelling)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value. The `rfc8785` library is the reference; documents it
    would spell the same as the standard library's sorted compact JSON (the common case, checked
    by `_plain`) go through the latter, four times faster (tests/unit/consent/test_chain.py holds
    the two equal)."""
    if _plain(value):
        return _dumps(value).encode("utf-8")
    return _jcs(value)


def _hash(doc: dict[str, Any], version: int) -> str:
    if version == 2:
        doc["hash_version"] = 2
        evidence = doc["evidence"]
        plain = evidence is None or _plain(evidence)  # the other fields are strings, ints and nulls
        payload = _dumps(doc).encode("utf-8") if plain else _jcs(doc)
    elif version == 1:
        payload = _dumps(doc).encode("utf-8")
    else:
        raise UnknownHashVersion(f"unknown hash version {version!r}")
    return hashlib.sha256(payload).hexdigest()


def event_hash(fields: dict[str, Any]) -> str:
    """The hash of an event given as a mapping of its fields (datetimes or canonical time text),
    by the version it records (`hash_version`; 1 when absent)."""
    doc = {name: _canonical(fields.get(name)) for name in CHAINED_FIELDS}
    return _hash(doc, fields.get("hash_version") or 1)


def row_hash(values: Sequence[Any], version: int) -> str:
    """The hash of an event given as its chained fields in CHAINED_FIELDS order, times already as
    canonical text and the evidence as its stored JSON text (the verifier's rows, consent.verify):
    the reference computation, by `event_hash` (tests/unit/consent/test_canonical.py holds the
    two equal). The verifier's hot loop asks `row_matches` first."""
    fields = dict(zip(CHAINED_FIELDS, values, strict=False))
    stored = fields["evidence"]
    try:
        fields["evidence"] = None if stored is None else json.loads(stored)
    except (TypeError, ValueError):
        raise UnhashableEvent("the stored evidence is not JSON") from None
    return _hash(fields, version)


def row_matches(values: Sequence[Any], version: int, stored_hash: str | None) -> bool:
    """True if a verifier row (as `row_hash` takes it) hashes to `stored_hash`.

    Asked first of orjson (C): its sorted compact JSON of the fields is, for nearly every event,
    the very bytes the event was hashed over, at a third of the reference's cost. That answer is
    trusted only when it says yes: orjson writes valid JSON of the row's values, so bytes whose
    SHA-256 equals the stored hash are the bytes hashed when the event was written, and the
    values are the ones written then (a field moved into another, or a hash version relabelled,
    changes the bytes). Whenever it says no, or cannot spell a value (a float JCS writes
    otherwise, an integer beyond 64 bits, evidence that is not JSON), the reference decides."""
    if stored_hash is None:
        return False
    try:
        doc = dict(zip(CHAINED_FIELDS, values[:16], strict=True))
        evidence = doc["evidence"]
        doc["evidence"] = None if evidence is None else _orjson_loads(evidence)
        if version == 2:
            doc["hash_version"] = 2
        elif version != 1:
            return False
        if hashlib.sha256(_orjson_dumps(doc, option=_SORTED)).hexdigest() == stored_hash:
            return True
    except (TypeError, ValueError):  # orjson's errors are both; the reference decides
        pass
    try:
        return row_hash(values, version) == stored_hash
    except UnhashableEvent:
        return False


def _jcs(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise UnhashableEvent(str(exc)) from None


def seal(fields: dict[str, Any]) -> None:
    """Give a new event the current hash version and its hash (the write path's one call here)."""
    fields["hash_version"] = CURRENT_VERSION
    try:
        fields["hash"] = event_hash(fields)
    except UnhashableEvent as exc:
        raise InvalidInput(f"evidence cannot be recorded: {exc} (RFC 8785 JSON)", field="evidence") from None
