"""core.group_commit on the test database: items that arrive together share one transaction, each
caller is answered only after it committed, and one bad item fails alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sargs.core.group_commit import GroupCommit
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.audit.service import Accessor, access_row
from sargs.entrypoints.container import Container
from tests.conftest import NOW
from tests.helpers import run_apart


def log_row(n: int) -> dict[str, object]:
    row = access_row(actor=Accessor("system", None, None), route=f"TEST {n}", action="read", now=NOW)
    return {**row, "controller": "lmt"}


def write_rows(session: Session, items: Sequence[int]) -> list[int]:
    """Each item writes one access-log row named after it; an item of -1 is refused."""
    if -1 in items:
        raise ValueError("item -1 is refused")
    session.execute(AccessLogEntry.__table__.insert(), [log_row(n) for n in items])
    return [n * 10 for n in items]


def held_first(
    release: threading.Event,
    calls: list[list[int]],
    then: Callable[[Session, Sequence[int]], list[int]] = write_rows,
) -> Callable[[Session, Sequence[int]], list[int]]:
    """A group's `run` that records each call's items, holds the first call until `release` is set
    and writes its rows, and does `then` for every later call."""

    def run(session: Session, items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            assert release.wait(10)
            return write_rows(session, items)
        return then(session, items)

    return run


def routes(container: Container) -> list[str]:
    with container.read_sessions.begin() as s:
        return sorted(s.scalars(select(AccessLogEntry.route).where(AccessLogEntry.route.like("TEST %"))))


async def first_then_group(
    committer: GroupCommit[int, int], release: threading.Event, group: list[int]
) -> list[object]:
    """Item 1 alone (its `run` waits for `release`), then `group` queued behind it; every outcome."""
    first = asyncio.ensure_future(committer.submit(1))
    await asyncio.sleep(0.05)
    queued = [asyncio.ensure_future(committer.submit(n)) for n in group]
    await asyncio.sleep(0.05)
    release.set()
    return await asyncio.gather(first, *queued, return_exceptions=True)


def test_items_that_arrive_together_share_a_transaction_and_are_answered_in_order(
    container: Container,
) -> None:
    first_started = threading.Event()
    release = threading.Event()
    groups: list[int] = []

    def run(session: Session, items: Sequence[int]) -> list[int]:
        if not groups and not first_started.is_set():
            first_started.set()
            assert release.wait(10)  # hold the first transaction until the others are queued
        return write_rows(session, items)

    committer = GroupCommit(container.sessions, run, name="test", on_group=groups.append)

    async def main() -> list[int]:
        first = asyncio.ensure_future(committer.submit(0))
        await asyncio.to_thread(first_started.wait, 10)
        rest = [asyncio.ensure_future(committer.submit(n)) for n in range(1, 21)]
        await asyncio.sleep(0.05)  # each has queued its item
        release.set()
        return [await first, *[await r for r in rest]]

    answers = run_apart(main())
    assert answers == [n * 10 for n in range(21)]
    assert groups == [1, 20]  # the first alone, the twenty that waited for it in one transaction
    assert routes(container) == sorted(f"TEST {n}" for n in range(21))


def test_an_answer_comes_only_after_its_commit(container: Container) -> None:
    committer = GroupCommit(container.sessions, write_rows, name="test")

    async def main() -> list[str]:
        await committer.submit(7)
        return routes(container)  # read on another connection, right after the answer

    assert run_apart(main()) == ["TEST 7"]


def test_one_bad_item_fails_alone_and_the_others_commit(container: Container) -> None:
    release = threading.Event()
    calls: list[list[int]] = []
    committer = GroupCommit(container.sessions, held_first(release, calls), name="test")

    first, two, bad, three = run_apart(first_then_group(committer, release, [2, -1, 3]))
    assert (first, two, three) == (10, 20, 30)
    assert isinstance(bad, ValueError) and "refused" in str(bad)
    # the group of three failed as a whole, then each was tried alone; nothing of it was half-written
    assert calls == [[1], [2, -1, 3], [2], [-1], [3]]
    assert routes(container) == ["TEST 1", "TEST 2", "TEST 3"]


def test_an_unreachable_database_fails_the_whole_group_at_once(container: Container) -> None:
    release = threading.Event()
    calls: list[list[int]] = []

    def unreachable(session: Session, items: Sequence[int]) -> list[int]:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    committer = GroupCommit(container.sessions, held_first(release, calls, unreachable), name="test")

    first, *rest = run_apart(first_then_group(committer, release, [2, 3, 4]))
    assert first == 10
    assert all(isinstance(r, OperationalError) for r in rest)
    assert calls == [[1], [2, 3, 4]]  # not retried one by one: every retry would wait for the same outage


def test_the_thread_ends_when_idle_and_a_new_item_starts_it_again(container: Container) -> None:
    committer = GroupCommit(container.sessions, write_rows, name="idle-test", idle_seconds=0.05)

    def threads() -> int:
        return sum(t.name == "group-commit-idle-test" for t in threading.enumerate())

    async def main() -> tuple[int, int, int]:
        await committer.submit(1)
        running = threads()
        for _ in range(100):
            if not threads():
                break
            await asyncio.sleep(0.02)
        idle = threads()
        answer = await committer.submit(2)
        return running, idle, answer

    running, idle, answer = run_apart(main())
    assert (running, idle, answer) == (1, 0, 20)


def test_a_deadlock_is_retried_item_by_item_not_failed_as_an_outage(container: Container) -> None:
    release = threading.Event()
    calls: list[list[int]] = []

    class Deadlock(Exception):
        sqlstate = "40P01"  # PostgreSQL's deadlock_detected, as psycopg reports it

    def deadlocked_when_grouped(session: Session, items: Sequence[int]) -> list[int]:
        if len(items) > 1:
            raise OperationalError("UPDATE subjects", {}, Deadlock("deadlock detected"))
        return write_rows(session, items)

    run = held_first(release, calls, deadlocked_when_grouped)
    committer = GroupCommit(container.sessions, run, name="test")

    answers = run_apart(first_then_group(committer, release, [2, 3]))
    assert answers == [10, 20, 30]
    assert calls == [[1], [2, 3], [2], [3]]
    assert routes(container) == ["TEST 1", "TEST 2", "TEST 3"]


@pytest.mark.parametrize(("lanes", "answered_while_held"), [(2, True), (1, False)])
def test_items_arriving_while_every_lane_is_busy_open_another_lane(
    container: Container, lanes: int, answered_while_held: bool
) -> None:
    """With two lanes, a transaction that takes long does not hold up the items behind it; with
    one lane they wait for it."""
    release = threading.Event()
    done: list[int] = []

    def run(session: Session, items: Sequence[int]) -> list[int]:
        if 1 in items:
            assert release.wait(10)
        return [n * 10 for n in items]

    # read sessions: the lanes' transactions write nothing, so SQLite lets them overlap too
    committer = GroupCommit(container.read_sessions, run, name=f"lanes-{lanes}", lanes=lanes)

    async def main() -> bool:
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(committer.submit(2))
        second.add_done_callback(lambda f: done.append(f.result()))
        await asyncio.sleep(0.3)
        held = bool(done)  # answered while the first was still held?
        release.set()
        assert (await first, await second) == (10, 20)
        return held

    assert run_apart(main()) is answered_while_held


def test_a_caller_with_many_items_gets_them_in_one_transaction_with_the_others(
    container: Container,
) -> None:
    release = threading.Event()
    groups: list[list[int]] = []
    committer = GroupCommit(container.sessions, held_first(release, groups), name="test", max_items=5)

    async def main() -> list[object]:
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        many = asyncio.ensure_future(committer.submit_many([2, 3, 4]))
        single = asyncio.ensure_future(committer.submit(5))
        too_many = asyncio.ensure_future(committer.submit_many([6, 7, 8, 9, 10, 11]))  # over max_items
        await asyncio.sleep(0.05)
        release.set()
        return [await first, await many, await single, await too_many]

    assert run_apart(main()) == [10, [20, 30, 40], 50, [60, 70, 80, 90, 100, 110]]
    # whole callers per transaction, up to max_items; a caller with more goes alone, undivided
    assert groups == [[1], [2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_access_rows_of_many_requests_are_all_written_with_their_own_fields(container: Container) -> None:
    """audit.service.insert_access_rows, as a group of single and batch checks uses it: rows that
    share a request's fields go together (one statement on PostgreSQL), the rest as they are."""
    from sargs.domains.audit.service import insert_access_rows

    batch = access_row(
        actor=Accessor("token", "t-1", "marketing"), route="TEST batch", action="read", now=NOW
    )
    rows = [
        {**batch, "subject_id": f"s{n}", "controller": "lmt", "outcome": "ok" if n else "not_found"}
        for n in range(3)
    ]
    rows.insert(1, {**log_row(1), "subject_id": "x1", "outcome": "ok"})
    rows.append({**log_row(2), "subject_id": None, "outcome": "not_found"})
    with container.sessions.begin() as s:
        insert_access_rows(s, rows)
    with container.read_sessions.begin() as s:
        stored = s.execute(
            select(
                AccessLogEntry.route, AccessLogEntry.subject_id, AccessLogEntry.outcome, AccessLogEntry.role
            ).where(AccessLogEntry.route.like("TEST %"))
        ).all()
    assert sorted(stored, key=str) == sorted(
        [(r["route"], r["subject_id"], r["outcome"], r["role"]) for r in rows], key=str
    )
