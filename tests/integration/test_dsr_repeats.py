"""Repeat requests (retailer 3.6) from people Sargs has not met: matched on the identities the
requester gave (normalised), not only on a known subject; and race-free, so two requests of the
same kind arriving at once never both pass as the first. SQLite, and PostgreSQL when
SARGS_TEST_DATABASE_URL is set (where the concurrency test is the one that matters)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sargs.bootstrap import example_policy_paths
from sargs.core.clock import FixedClock
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.dsr.service import DsrActor, cancel, lock_request
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectIdentity
from sargs.domains.tokens.service import create_token
from sargs.entrypoints.container import Container
from tests.processes import free_port, sargs, sargs_env, start_processes

C = "lytagra-lv"
STAFF = DsrActor("staff", "staff-1")
FULL = {"name": "Jānis Bērziņš", "address": "Rīga, Brīvības 2", "contact": "letter", "signed": True}


def file(
    container: Container, *identities: Identity, kind: str = "access", controller: str = C
) -> DsrRequest:
    with container.sessions.begin() as session:
        request = file_request(
            session=session,
            registry=container.registry,
            intake=Intake(
                controller=controller, kind=kind, channel="post", identities=list(identities), requester=FULL
            ),
            actor=STAFF,
            now=container.clock.now(),
        )
        session.expunge(request)
        return request


def test_a_second_request_by_an_email_only_requester_is_flagged_as_a_repeat(
    container: Container, clock: FixedClock
) -> None:
    first = file(container, Identity("email", "janis@example.lv"))
    assert first.subject_id is None and first.repeat_of is None  # Sargs has never met them
    with container.read_sessions.begin() as session:
        assert session.scalars(select(SubjectIdentity)).all() == []
    clock.advance(days=40)
    # The same address as typed another time: normalised to the same identity.
    second = file(container, Identity("email", "Janis@EXAMPLE.lv"))
    assert second.subject_id is None and second.repeat_of == first.id
    # Another kind, or another company of the group, is not a repeat of it.
    assert file(container, Identity("email", "janis@example.lv"), kind="portability").repeat_of is None
    assert file(container, Identity("email", "janis@example.lv"), controller="lytagra-lt").repeat_of is None


def test_a_phone_number_in_another_form_matches_and_any_shared_identity_is_enough(
    container: Container,
) -> None:
    first = file(container, Identity("msisdn", "+37129123456"))
    # National form; and together with an e-mail the first request never named.
    second = file(container, Identity("email", "new@example.lv"), Identity("msisdn", "29123456"))
    assert second.repeat_of == first.id
    third = file(container, Identity("email", "new@example.lv"))
    assert third.repeat_of == second.id  # the latest earlier one
    assert file(container, Identity("email", "someone-else@example.lv")).repeat_of is None


def test_only_requests_within_six_months_and_not_cancelled_count(
    container: Container, clock: FixedClock
) -> None:
    email = Identity("email", "anna@example.lv")
    first = file(container, email)
    with container.sessions.begin() as session:
        cancel(session=session, request=lock_request(session=session, request_id=first.id), reason="",
               actor=STAFF, now=container.clock.now())  # fmt: skip
    second = file(container, email)
    assert second.repeat_of is None  # the cancelled one does not count
    clock.advance(days=185)
    assert file(container, email).repeat_of is None  # more than six months later


# --- two at once, through real HTTP ----------------------------------------------------------------

ROUNDS, AT_ONCE = 4, 8
SECRET = "repeat-requests-test-secret-0123456789abcdef"


def _token(db_url: str) -> str:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            return create_token(session=session, name="repeats", role="admin", now=datetime.now(UTC)).secret
    finally:
        engine.dispose()


def at_once(client: httpx.Client, body: dict[str, object], n: int) -> list[httpx.Response]:
    """`n` threads post `body` at the same moment (a barrier releases them together)."""
    barrier = threading.Barrier(n)
    answers: list[httpx.Response] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            answers.append(client.post("/api/v1/dsr/requests", json=body))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return answers


def test_requests_of_one_person_arriving_at_once_are_flagged_all_but_one(db_url: str) -> None:
    """`sargs serve` in its own process; threads post the same person's request at the same moment.
    Without the claim (`dsr.repeats.find_repeat`'s lock) several pass as the first on PostgreSQL."""
    port = free_port()
    env = sargs_env(
        database_url=db_url,
        policy_files=",".join(str(p) for p in example_policy_paths()),
        secret_key=SECRET,
        sms_webhook_secret=SECRET,
        mail_webhook_secret=SECRET,
    )
    headers = {"Authorization": f"Bearer {_token(db_url)}"}
    with start_processes([sargs("serve", "--port", str(port))], env) as procs:
        base = f"http://127.0.0.1:{port}"
        procs.wait_http([f"{base}/api/v1/health"])
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for round_ in range(ROUNDS):
                body = {
                    "controller": C,
                    "kind": "access",
                    "channel": "post",
                    "identities": [f"email:person{round_}@example.lv"],
                    "requester": FULL,
                }
                answers = at_once(client, body, AT_ONCE)
                assert [r.status_code for r in answers] == [201] * AT_ONCE, [r.text for r in answers]
                filed = [r.json() for r in answers]
                firsts = [r for r in filed if r["repeat_of"] is None]
                assert len(firsts) == 1, f"round {round_}: {len(firsts)} of {AT_ONCE} passed as the first"
                ids = {r["id"] for r in filed}
                assert all(r["repeat_of"] in ids for r in filed if r["repeat_of"] is not None)
