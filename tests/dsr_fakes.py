"""A fake data-source connector for DSR tests: answers from a dict, can fail, counts calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sargs.domains.policy.schema import RetentionRule
from sargs.domains.policy.sources import DataSource
from sargs.domains.policy.text import Text
from sargs.domains.sources.reports import SourceAccess, SourceErasure, TableErasure, TableRows
from sargs.domains.subjects.identifiers import Identity

KEPT = Text(lv="Pasūtījumi glabājas 10 gadus.", en="Orders are kept for 10 years.")


class FakeConnector:
    def __init__(self, factory: FakeConnectors, source: DataSource) -> None:
        self.factory, self.source = factory, source

    def collect(self, *, identities: Sequence[Identity]) -> SourceAccess:
        self.factory.calls.append(("collect", self.source.id))
        self.factory.pause()
        return SourceAccess(
            self.source.id,
            [TableRows("customers", [{"id": 1, "email": str(identities[0])}], {"email": "email"})],
        )

    def erase(
        self,
        *,
        identities: Sequence[Identity],
        now: datetime,
        rules: Mapping[str, RetentionRule],
        earlier: Mapping[str, Sequence[Any]] | None = None,
        on_found: Callable[[dict[str, list[Any]]], None] | None = None,
    ) -> SourceErasure:
        self.factory.calls.append(("erase", self.source.id))
        self.factory.pause()
        if self.source.id in self.factory.failing:
            return SourceErasure(self.source.id, ok=False, error="connection refused")
        return SourceErasure(
            self.source.id,
            ok=True,
            tables=[
                TableErasure("orders", deleted=1, kept=2, kept_reason=KEPT, kept_until=date(2035, 1, 1)),
                TableErasure("customers", anonymised=1),
            ],
        )

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        return iter(())


class FakeConnectors:
    """A ConnectorFactory; `failing` names sources whose erasure fails, `delay` slows every call."""

    def __init__(self, failing: set[str] | None = None, delay: float = 0.0) -> None:
        self.failing = failing or set()
        self.delay = delay
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def pause(self) -> None:
        if self.delay:
            time.sleep(self.delay)

    def __call__(self, source: DataSource) -> Any:
        return FakeConnector(self, source)


class EmptySource:
    """A source that holds nothing for anyone (the retailer's e-mail platform in SQL-only tests)."""

    def __init__(self, source: DataSource) -> None:
        self.source = source

    def collect(self, *, identities: Sequence[Identity]) -> SourceAccess:
        return SourceAccess(self.source.id, [])

    def erase(self, **_: Any) -> SourceErasure:
        return SourceErasure(self.source.id, ok=True)

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        return iter(())


def with_empty_mailer(sql: Any) -> Any:
    """The SQL connector factory `sql`, with the http sources (the retailer's mailer) holding nothing."""
    from sargs.integrations.sources.http import KindConnectors

    return KindConnectors({"sql": sql, "http": EmptySource})
