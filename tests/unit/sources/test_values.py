"""Cells made JSON-safe, calendar periods, and anonymisation markers that fit their column."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sargs.domains.policy.schema import Duration
from sargs.domains.sources.values import as_utc, json_safe, marker, shift
from sargs.integrations.sources.sql import msisdn_forms


def test_cells_become_json_safe_without_losing_precision() -> None:
    row = {
        "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "day": date(2015, 6, 30),
        "total": Decimal("12.30"),
        "blob": b"\x00\xff",
        "id": uuid.UUID(int=1),
        "n": 3,
        "none": None,
    }
    safe = {k: json_safe(v) for k, v in row.items()}
    assert json.loads(json.dumps(safe)) == {
        "at": "2026-01-02T03:04:05+00:00",
        "day": "2015-06-30",
        "total": "12.30",
        "blob": "AP8=",
        "id": "00000000-0000-0000-0000-000000000001",
        "n": 3,
        "none": None,
    }


def test_a_period_is_calendar_arithmetic_clamped_to_the_month_end() -> None:
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert shift(leap, Duration(years=10)) == datetime(2014, 2, 28, 12, tzinfo=UTC)
    assert shift(datetime(2026, 3, 31, tzinfo=UTC), Duration(months=1)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert shift(datetime(2026, 1, 1, tzinfo=UTC), Duration(years=2, days=1), sign=1) == datetime(
        2028, 1, 2, tzinfo=UTC
    )


def test_source_dates_are_read_as_utc_and_unreadable_text_as_unknown() -> None:
    assert as_utc(datetime(2020, 1, 1)) == datetime(2020, 1, 1, tzinfo=UTC)
    assert as_utc("2020-01-01 10:00:00") == datetime(2020, 1, 1, 10, tzinfo=UTC)
    assert as_utc(date(2020, 1, 1)) == datetime(2020, 1, 1, tzinfo=UTC)
    assert as_utc("soon") is None
    assert as_utc(None) is None


def test_markers_are_distinct_per_row_and_fit_short_columns() -> None:
    a = marker(source="shop", table="customers", key=1, column="email")
    b = marker(source="shop", table="customers", key=2, column="email")
    assert a.startswith("anonymised-") and a != b
    assert len(marker(source="shop", table="t", key=1, column="c", length=8)) == 8
    assert marker(source="shop", table="t", key=1, column="c", length=18).startswith("anonymised-")


def test_a_latvian_number_matches_its_international_and_local_forms() -> None:
    assert msisdn_forms("+37129123456") == ["+37129123456", "37129123456", "0037129123456", "29123456"]


def test_a_foreign_number_gets_no_local_form_in_latvia() -> None:
    assert msisdn_forms("+37255512345") == ["+37255512345", "37255512345", "0037255512345"]
