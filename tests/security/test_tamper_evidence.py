"""Tamper evidence (issue 8, part 6): every kind of direct database tampering with the consent
ledger is caught by `verify_ledger` / `sargs ledger verify`, and the report names the first bad
event: its subject, its position in the subject's chain and its id.

tests/integration/test_consent_ledger.py already shows that an edit, a removal, a reordering and
a removed chain are *detected*; this file pins down *which event is named*, for every chained
field, every position, forged rows (with a random or a correctly computed hash), swapped
positions and edited chain heads, on SQLite and on PostgreSQL (SARGS_TEST_DATABASE_URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from sargs.core.ids import new_id
from sargs.domains.consent.chain import event_hash
from sargs.domains.consent.model import ConsentEvent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import LedgerProblem, VerifyReport, verify_ledger
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import NOW

ACTIONS = ("grant", "withdraw", "grant")


@dataclass(frozen=True)
class Chain:
    subject_id: str
    ids: list[str]  # event ids by position: ids[0] is #1

    def id_at(self, position: int) -> str:
        return self.ids[position - 1]


def make_chain(container: Container, phone: str, events: int = 3) -> Chain:
    with container.sessions.begin() as s:
        sid = create_subject(
            session=s, identities=[Identity("msisdn", phone)], now=NOW, groups={"lmt": "own"}
        )
    ids = []
    for i in range(events):
        with container.sessions.begin() as s:
            outcome = record_consent(
                session=s,
                registry=container.registry,
                subject_id=sid,
                controller="lmt",
                purpose="offers",
                action=ACTIONS[i % 3],
                channel="sms",
                actor=Actor("system", "test"),
                now=NOW,
                occurred_at=NOW - timedelta(days=10 - i),
                evidence={"sms_message_id": f"SM{i}"},
            )
        assert outcome.event is not None
        ids.append(outcome.event.id)
    return Chain(sid, ids)


@pytest.fixture
def chains(container: Container) -> tuple[Chain, Chain, Chain]:
    """Three subjects with three events each; the ledger verifies."""
    made = (
        make_chain(container, "+37129000101"),
        make_chain(container, "+37129000102"),
        make_chain(container, "+37129000103"),
    )
    assert verify(container).ok
    return made


def verify(container: Container) -> VerifyReport:
    with container.read_sessions.begin() as s:
        return verify_ledger(session=s)


def first(container: Container) -> LedgerProblem:
    report = verify(container)
    assert not report.ok, "tampering went unnoticed"
    problem = report.first_problem
    assert problem is not None and report.problems[0] == str(problem)
    return problem


def named(problem: LedgerProblem) -> tuple[str, int | None, str | None]:
    return problem.subject_id, problem.chain_seq, problem.event_id


def row_of(container: Container, event_id: str) -> dict[str, Any]:
    with container.engine.begin() as conn:
        row = conn.execute(select(*ConsentEvent.__table__.c).where(ConsentEvent.id == event_id)).one()
    return dict(row._mapping)


def set_event(container: Container, event_id: str, **values: Any) -> None:
    with container.engine.begin() as conn:
        conn.execute(update(ConsentEvent).where(ConsentEvent.id == event_id).values(**values))


def forge(container: Container, like: dict[str, Any], **changes: Any) -> str:
    """Insert a forged event modelled on `like`; its hash is computed unless `hash` is given."""
    fields = {k: v for k, v in like.items() if k != "seq"}
    fields.update(id=new_id(), **changes)
    if "hash" not in changes:
        fields["hash"] = event_hash(fields)
    with container.engine.begin() as conn:
        conn.execute(insert(ConsentEvent).values(**fields))
    return str(fields["id"])


def move_positions(container: Container, subject_id: str, moves: dict[int, int]) -> None:
    """Renumber chain positions directly (through negative numbers: (subject, chain_seq) is unique)."""
    with container.engine.begin() as conn:
        for old in moves:
            conn.execute(
                update(ConsentEvent)
                .where(ConsentEvent.subject_id == subject_id, ConsentEvent.chain_seq == old)
                .values(chain_seq=-old)
            )
        for old, new in moves.items():
            conn.execute(
                update(ConsentEvent)
                .where(ConsentEvent.subject_id == subject_id, ConsentEvent.chain_seq == -old)
                .values(chain_seq=new)
            )


# --- editing a field ------------------------------------------------------------------------------

EDITS: dict[str, Any] = {
    "controller": "lmt-retail",
    "purpose": "loyalty",
    "action": "refuse",
    "channel": "portal",
    "actor_type": "staff",
    "actor_id": "someone-else",
    "occurred_at": NOW - timedelta(days=9, microseconds=1),
    "recorded_at": NOW + timedelta(seconds=1),
    "policy_id": "forged-policy",
    "policy_version": "1999-01-01",
    "evidence": {"sms_message_id": "SM-forged"},
    "idempotency_key": "forged-key",
    "prev_hash": "0" * 64,
    "hash": "f" * 64,
}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_editing_any_chained_field_names_that_event_first(
    container: Container, chains: tuple[Chain, ...], column: str
) -> None:
    chain = chains[0]
    set_event(container, chain.id_at(2), **{column: EDITS[column]})
    problem = first(container)
    assert named(problem) == (chain.subject_id, 2, chain.id_at(2)), str(problem)
    assert problem.kind in ("altered", "unlinked")


def test_editing_an_event_id_names_the_event_by_its_new_id(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    chain = chains[0]
    set_event(container, chain.id_at(2), id="f" * 32)
    assert named(first(container)) == (chain.subject_id, 2, "f" * 32)


def test_moving_an_event_to_another_subject_is_caught_in_both_chains(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    chain = chains[0]
    with container.sessions.begin() as s:
        empty = create_subject(session=s, identities=[Identity("msisdn", "+37129000109")], now=NOW)
    set_event(container, chain.id_at(2), subject_id=empty)
    report = verify(container)
    places = {named(f) for f in report.findings}
    assert (chain.subject_id, 3, chain.id_at(3)) in places  # the gap left behind
    assert (empty, 2, chain.id_at(2)) in places  # the event where it does not belong
    expected_first = min((chain.subject_id, 3, chain.id_at(3)), (empty, 2, chain.id_at(2)))
    assert report.first_problem is not None and named(report.first_problem) == expected_first


# --- deleting rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("removed", "named_position", "kind"),
    [(1, 2, "misplaced"), (2, 3, "misplaced"), (3, 3, "missing")],
    ids=["first", "middle", "last"],
)
def test_a_removed_event_is_named_by_its_position(
    container: Container, chains: tuple[Chain, ...], removed: int, named_position: int, kind: str
) -> None:
    chain = chains[1]
    with container.engine.begin() as conn:
        conn.execute(delete(ConsentEvent).where(ConsentEvent.id == chain.id_at(removed)))
    problem = first(container)
    if kind == "missing":  # nothing is stored at the end any more: the position is named, no id
        assert named(problem) == (chain.subject_id, removed, None)
    else:  # the event that now sits where the removed one was
        assert named(problem) == (chain.subject_id, named_position, chain.id_at(named_position))
        assert f"#{removed} was removed" in problem.detail
    assert problem.kind == kind


def test_a_whole_removed_chain_is_named_from_its_first_position(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    chain = chains[2]
    with container.engine.begin() as conn:
        conn.execute(delete(ConsentEvent).where(ConsentEvent.subject_id == chain.subject_id))
    problem = first(container)
    assert named(problem) == (chain.subject_id, 1, None) and problem.kind == "missing"


# --- inserting forged rows --------------------------------------------------------------------------


def test_a_forged_event_with_a_made_up_hash_is_named(container: Container, chains: tuple[Chain, ...]) -> None:
    chain = chains[0]
    last = row_of(container, chain.id_at(3))
    forged = forge(container, last, chain_seq=4, action="withdraw", prev_hash=last["hash"], hash="ab" * 32)
    report = verify(container)
    assert report.first_problem is not None
    assert named(report.first_problem) == (chain.subject_id, 4, forged)
    assert {f.kind for f in report.findings} == {"altered", "inserted"}


def test_a_forged_event_with_a_correctly_computed_hash_is_named(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    """The hash is unkeyed SHA-256, so a forger can compute it: the subject's recorded chain
    length still gives the forged event away."""
    chain = chains[0]
    last = row_of(container, chain.id_at(3))
    forged = forge(container, last, chain_seq=4, action="withdraw", prev_hash=last["hash"])
    problem = first(container)
    assert named(problem) == (chain.subject_id, 4, forged) and problem.kind == "inserted"


def test_a_forged_event_slipped_into_the_middle_is_named_not_the_ones_after_it(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    chain = chains[1]
    move_positions(container, chain.subject_id, {3: 4, 2: 3})
    one = row_of(container, chain.id_at(1))
    forged = forge(container, one, chain_seq=2, action="withdraw", prev_hash=one["hash"])
    report = verify(container)
    assert report.first_problem is not None
    assert named(report.first_problem) == (chain.subject_id, 2, forged), report.problems
    assert report.first_problem.kind == "inserted"
    assert "links past it to #1" in report.first_problem.detail


def test_an_event_forged_for_a_subject_without_a_chain_is_named(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    with container.sessions.begin() as s:
        empty = create_subject(session=s, identities=[Identity("msisdn", "+37129000108")], now=NOW)
    like = row_of(container, chains[0].id_at(1))
    forged = forge(container, like, subject_id=empty, chain_seq=1, prev_hash=None)
    problem = first(container)
    assert named(problem) == (empty, 1, forged) and problem.kind == "inserted"
    assert "records no chain" in problem.detail


def test_a_forgery_that_also_rewrites_the_chain_head_changes_the_anchored_digest(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    """Whoever can write the database can append a correctly hashed event *and* update the
    subject's chain length and head: no check inside the database can tell. The digest of all
    chain heads printed by `sargs ledger verify` and kept elsewhere is what shows it."""
    anchored = verify(container).digest
    chain = chains[0]
    last = row_of(container, chain.id_at(3))
    forge(container, last, chain_seq=4, action="withdraw", prev_hash=last["hash"])
    with container.engine.begin() as conn:
        forged = conn.execute(
            select(ConsentEvent.hash).where(
                ConsentEvent.subject_id == chain.subject_id, ConsentEvent.chain_seq == 4
            )
        ).scalar_one()
        conn.execute(
            update(Subject).where(Subject.id == chain.subject_id).values(chain_length=4, chain_head=forged)
        )
    assert verify(container).digest != anchored


# --- reordering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 3), (1, 3)])
def test_swapped_positions_name_the_first_swapped_position(
    container: Container, chains: tuple[Chain, ...], a: int, b: int
) -> None:
    chain = chains[2]
    move_positions(container, chain.subject_id, {a: b, b: a})
    problem = first(container)
    assert named(problem) == (chain.subject_id, a, chain.id_at(b)), str(problem)


# --- the subject's record of its chain ------------------------------------------------------------


@pytest.mark.parametrize("head", ["previous", "random", "null"])
def test_a_changed_chain_head_names_the_last_event(
    container: Container, chains: tuple[Chain, ...], head: str
) -> None:
    chain = chains[0]
    value = {
        "previous": row_of(container, chain.id_at(2))["hash"],
        "random": "c" * 64,
        "null": None,
    }[head]
    with container.engine.begin() as conn:
        conn.execute(update(Subject).where(Subject.id == chain.subject_id).values(chain_head=value))
    problem = first(container)
    assert named(problem) == (chain.subject_id, 3, chain.id_at(3)) and problem.kind == "head_mismatch"


@pytest.mark.parametrize(("length", "expected"), [(2, (3, True)), (4, (4, False)), (0, (1, True))])
def test_a_changed_chain_length_is_named(
    container: Container, chains: tuple[Chain, ...], length: int, expected: tuple[int, bool]
) -> None:
    chain = chains[0]
    with container.engine.begin() as conn:
        conn.execute(update(Subject).where(Subject.id == chain.subject_id).values(chain_length=length))
    position, has_event = expected
    problem = first(container)
    assert named(problem) == (chain.subject_id, position, chain.id_at(position) if has_event else None)


# --- several changes at once ----------------------------------------------------------------------


def test_with_several_changes_the_first_in_chain_order_is_named(
    container: Container, chains: tuple[Chain, ...]
) -> None:
    a, b, _ = chains
    set_event(container, a.id_at(3), action="withdraw")
    set_event(container, a.id_at(2), purpose="loyalty")
    set_event(container, b.id_at(3), channel="portal")
    report = verify(container)
    earliest = min((a.subject_id, 2, a.id_at(2)), (b.subject_id, 3, b.id_at(3)))
    assert report.first_problem is not None and named(report.first_problem) == earliest
    assert [named(f) for f in report.findings] == sorted(named(f) for f in report.findings)
    assert len(report.findings) == 3


def test_ledger_verify_command_prints_the_first_bad_event_first(
    db_url: str, container: Container, chains: tuple[Chain, ...]
) -> None:
    from tests.cli.test_cli import run

    chain = chains[1]
    set_event(container, chain.id_at(2), evidence={"sms_message_id": "SM-forged"})
    result: Any = run("ledger", "verify", url=db_url)
    assert result.exit_code == 1
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("subject ")]
    assert (
        lines[0]
        == f"subject {chain.subject_id} event #2 ({chain.id_at(2)}): content does not match its hash (altered)"
    )
