"""The port retention uses to reach a data source: count what expired, and purge it in key ranges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sargs.domains.retention.rules import SourceRules


@dataclass(frozen=True)
class TableCounts:
    """Rows of one table at the plan's instant: expired under its rules, and what happens to them."""

    expired: int = 0
    held: int = 0  # kept by a legal hold
    archive: int = 0  # kept for the state archive (R 2.5)
    blocked: int = 0  # kept: rows of another table that stay still reference them
    to_purge: int = 0  # deleted or anonymised by a run


class RetentionConnector(Protocol):
    """One source's rows as the retention rules see them; every purge is one short transaction."""

    def count(self, *, table: str) -> TableCounts:
        """How many rows of `table` expired, and how many of them a run would purge."""
        ...

    def next_keys(self, *, table: str, after: Any | None, limit: int) -> list[Any]:
        """Primary keys of the next `limit` purgeable rows after `after`, ascending."""
        ...

    def purge(self, *, table: str, first: Any, last: Any) -> int:
        """Delete or anonymise the purgeable rows with keys in [first, last], in one transaction."""
        ...

    def remaining(self, *, table: str, first: Any, last: Any) -> int:
        """How many purgeable rows are left with keys in [first, last] (to recover an interrupted batch)."""
        ...

    def close(self) -> None: ...


class RetentionConnectorFactory(Protocol):
    """Opens the connector for a source's rules; ConfigurationError when the source cannot be reached."""

    def __call__(self, rules: SourceRules) -> RetentionConnector: ...
