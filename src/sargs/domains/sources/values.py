"""Plain helpers for source rows: JSON-safe cells, retention cut-offs, anonymisation markers."""

from __future__ import annotations

import base64
import calendar
import hashlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sargs.domains.policy.schema import Duration

MARKER_PREFIX = "anonymised-"


def json_safe(value: Any) -> Any:
    """A cell as JSON can hold it: dates ISO 8601, Decimal as text, bytes base64, UUID as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def shift(moment: datetime, period: Duration, *, sign: int = -1) -> datetime:
    """`moment` moved back (sign -1) or forward (+1) by a calendar period (31 Jan - 1M = 31 Dec...)."""
    months = moment.year * 12 + (moment.month - 1) + sign * (period.years * 12 + period.months)
    year, month = divmod(months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    moved = moment.replace(year=year, month=month + 1, day=day)
    return moved + sign * timedelta(weeks=period.weeks, days=period.days)


def as_utc(value: Any) -> datetime | None:
    """A date, datetime or ISO text from a source as an aware UTC datetime (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def marker(*, source: str, table: str, key: Any, column: str, length: int | None = None) -> str:
    """The fixed value an anonymised text field gets: 'anonymised-' and a short hash, cut to fit.

    The hash covers only where the cell is (source, table, row key, column), never its old value,
    so distinct rows stay distinct under unique constraints and nothing of the person remains.
    """
    digest = hashlib.sha256(f"{source}\x1f{table}\x1f{key}\x1f{column}".encode()).hexdigest()[:12]
    value = MARKER_PREFIX + digest
    if length is not None and length < len(value):
        return digest[:length] if length < len(MARKER_PREFIX) + 4 else value[:length]
    return value
