"""The port to the organisation's own databases (R-DSR-6): one connector per declared data source."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sargs.domains.policy.schema import RetentionRule
from sargs.domains.policy.sources import DataSource
from sargs.domains.sources.reports import SourceAccess, SourceErasure
from sargs.domains.subjects.identifiers import Identity


class SourceConnector(Protocol):
    """Reads and erases one person's rows in one source, as its policy declaration says."""

    def collect(self, *, identities: Sequence[Identity]) -> SourceAccess:
        """Every row reached from `identities` (identity columns, then references), JSON-safe."""
        ...

    def erase(
        self,
        *,
        identities: Sequence[Identity],
        now: datetime,
        rules: Mapping[str, RetentionRule],
        earlier: Mapping[str, Sequence[Any]] | None = None,
        on_found: Callable[[dict[str, list[Any]]], None] | None = None,
    ) -> SourceErasure:
        """Erase in dependency order in one transaction; exemptions by `rules` keep rows and say why.

        `on_found(keys)` is called in that transaction once the person's rows are found and locked,
        before anything changes: table -> primary keys (JSON-safe). A retry passes what an
        interrupted attempt found as `earlier`: those rows are looked up by key as well (an attempt
        that committed has anonymised the identities they were found by), and those of them gone
        are reported as deleted, so the answer is the same as the interrupted attempt's would have been.
        A call that raises aborts the erasure.

        Never raises for a database failure: returns ok=False with a safe error and changes nothing.
        """
        ...

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        """Every identity held in the identity columns of `tables` (all identified tables if None)."""
        ...


class ConnectorFactory(Protocol):
    """Builds the connector for a declared source; ConfigurationError when it cannot be reached."""

    def __call__(self, source: DataSource) -> SourceConnector: ...
