"""Group commit: units of work that arrive together done in one transaction, one commit for all.

A hot route whose every request writes (a consent check writes its access-log row) pays for a
transaction per request: BEGIN, its statements, COMMIT and the WAL flush behind it, and the
session and thread hand-off around them. `GroupCommit` collects the items that requests submit,
and a lane thread runs all the items waiting at that moment in one transaction through
`run(session, items)` (which may answer them with one statement), commits, and only then answers
each request. The promise of a 2xx is unchanged: its rows are committed before it is sent.

While every lane's transaction is in flight new items wait for the next one, so groups grow with
the load and an idle server answers the first request alone, at once. An item that arrives while
all lanes are busy opens another lane, up to `lanes` (each its own thread and connection: the
database works on several groups at once; SQLite, one writer at a time, wants one lane). When a
group fails, each of its items is tried again in a transaction of its own, so one item cannot
fail the others; when the database is unreachable (no connection, pool exhausted) they all fail at
once with that error instead of trying each; a deadlock with another transaction is retried item
by item. A lane ends after `idle_seconds` without work.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

I = TypeVar("I")  # noqa: E741 (an item)
R = TypeVar("R")

# Errors that say the database cannot be reached, not that one item is bad.
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)
# ...except these OperationalErrors of PostgreSQL: a deadlock or a serialization failure with
# another process's transaction, which the items retried one by one resolve.
RETRYABLE_STATES = ("40P01", "40001")


def unreachable(exc: BaseException) -> bool:
    """Does `exc` say the database cannot be reached (so retrying each item would not help)?"""
    if not isinstance(exc, UNREACHABLE):
        return False
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state not in RETRYABLE_STATES


def each_in_order(items: Sequence[I], key: Callable[[I], Any], do: Callable[[I], R]) -> list[R]:
    """`do(item)` for each item in the order of `key`, the results in the items' own order. A
    group's `run` does its items in the order it locks their rows in (a person's identity, an SMS
    sender), so two processes' groups lock the rows they share in the same order, not crosswise."""
    results: dict[int, R] = {}
    for n in sorted(range(len(items)), key=lambda n: key(items[n])):  # stable: equal keys keep order
        results[n] = do(items[n])
    return [results[n] for n in range(len(items))]


# One caller's items (one, or a batch answered together), its future and its event loop.
Waiting = tuple[list[object], "asyncio.Future[object]", asyncio.AbstractEventLoop]


class GroupCommit(Generic[I, R]):
    """Items of many callers, each answered once the transaction holding it has committed."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        run: Callable[[Session, Sequence[I]], Sequence[R]],
        *,
        name: str,
        max_items: int = 1000,
        idle_seconds: float = 1.0,
        on_group: Callable[[int], object] | None = None,
        lanes: int = 1,
    ) -> None:
        self.sessions = sessions
        self.run = run
        self.name = name
        self.max_items = max_items
        self.idle_seconds = idle_seconds
        self.on_group = on_group  # called with each group's size (metrics)
        self.lanes = lanes  # at most this many transactions in flight at once, each its own thread
        self._pending: list[Waiting] = []
        self._wake = threading.Condition()
        self._running = 0  # lane threads alive
        self._idle = 0  # of those, how many wait for an item

    async def submit(self, item: I) -> R:
        """`item`'s result, once the transaction that did it has committed (or its error)."""
        results = await self.submit_many([item])
        return results[0]

    async def submit_many(self, items: Sequence[I]) -> list[R]:
        """The results of `items`, all done in one transaction (possibly with other callers'
        items), once it has committed; or the error that failed them (they fail together)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        with self._wake:
            self._pending.append((list(items), future, loop))
            if not self._idle and self._running < self.lanes:  # every lane is busy: open another
                self._running += 1
                threading.Thread(target=self._serve, name=f"group-commit-{self.name}", daemon=True).start()
            self._wake.notify()
        results = await future
        return results  # type: ignore[return-value]

    def _serve(self) -> None:
        while True:
            with self._wake:
                if not self._pending:
                    self._idle += 1
                    self._wake.wait(self.idle_seconds)
                    self._idle -= 1
                if not self._pending:
                    self._running -= 1
                    return
                # Whole callers, up to max_items items (a caller with more goes alone).
                taken, count = 1, len(self._pending[0][0])
                while taken < len(self._pending) and count + len(self._pending[taken][0]) <= self.max_items:
                    count += len(self._pending[taken][0])
                    taken += 1
                group = self._pending[:taken]
                del self._pending[:taken]
            self._commit(group)

    def _commit(self, group: list[Waiting]) -> None:
        try:
            with self.sessions.begin() as session:
                items = [item for items, _, _ in group for item in items]
                results = self.run(session, items)  # type: ignore[arg-type]
                if len(results) != len(items):
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(items)} items")
        except Exception as exc:
            if len(group) == 1 or unreachable(exc):
                for waiting in group:
                    _settle(waiting, error=exc)
                return
            for waiting in group:  # one bad item must not fail the others: each alone
                self._commit([waiting])
            return
        if self.on_group is not None:
            self.on_group(len(results))
        start = 0
        for waiting in group:
            end = start + len(waiting[0])
            _settle(waiting, result=list(results[start:end]))
            start = end


def _settle(waiting: Waiting, *, result: object = None, error: BaseException | None = None) -> None:
    _, future, loop = waiting

    def answer() -> None:
        if future.done():  # the caller went away (its request was cancelled)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # that event loop has closed: nobody is waiting
        loop.call_soon_threadsafe(answer)
