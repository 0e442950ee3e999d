"""What a data source answers for one person: the rows found, and what erasure did (R-DSR-6).

Plain values only (JSON-safe cells), so an answer can be stored with the request, rendered into a
response document or zipped for portability without the source being reachable again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sargs.domains.policy.text import Text


@dataclass(frozen=True)
class TableRows:
    """A person's rows in one table; `categories` maps each declared column to its data category."""

    table: str
    rows: list[dict[str, Any]]
    categories: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceAccess:
    """Every row of one source reached from the person's identities (identity columns, then references)."""

    source: str
    tables: list[TableRows]

    @property
    def row_count(self) -> int:
        return sum(len(t.rows) for t in self.tables)


@dataclass(frozen=True)
class TableErasure:
    """What erasure did in one table: rows deleted, anonymised, and kept (with the reason and until when)."""

    table: str
    deleted: int = 0
    anonymised: int = 0
    kept: int = 0
    kept_reason: Text | None = None
    kept_until: date | None = None
    # Of `anonymised`: rows the table would delete, anonymised because kept rows still point at them.
    anonymised_not_deleted: int = 0
    # The exemption keeps only its rule's data categories: fields of other categories in kept rows
    # are cleared as their `erasure` says (R-DSR-5, applied per category).
    kept_categories: tuple[str, ...] = ()
    cleared_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceErasure:
    """One source's erasure: an SQL source's in one transaction, all of it or (ok False) none of it;
    an HTTP source's call by call, so a failed one may have erased some records (a retry finishes)."""

    source: str
    ok: bool
    tables: list[TableErasure] = field(default_factory=list)
    error: str | None = None  # safe to show and log: never a value from the person's rows
    # A failure that may pass on its own (timeout, 429, 5xx): fulfilment retries it later, after
    # `retry_after` seconds when the source said (Retry-After). False: permanent, staff must act.
    retryable: bool = False
    retry_after: float | None = None
