"""One-time codes: expire, work once, allow few tries, are rate-limited per identity in the
database, and never say whether a person exists."""

from __future__ import annotations

import hmac
from unittest import mock

import pytest

from sargs.core.errors import RateLimited
from sargs.domains.portal.codes import MAX_ATTEMPTS, MAX_CODES_PER_HOUR
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.portal.service import finish_sign_in, start_sign_in
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import SubjectIdentity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender

KEY = b"test-key"
PHONE = Identity("msisdn", "+37129000501")


def person(container: Container) -> str:
    with container.sessions.begin() as s:
        return create_subject(session=s, identities=[PHONE], now=container.clock.now(), groups={"lmt": "own"})


def start(container: Container, codes: FakeCodeSender, identity: Identity = PHONE) -> str:
    with container.sessions.begin() as s:
        return start_sign_in(
            session=s, key=KEY, identity=identity, sender=codes, now=container.clock.now(), language="en"
        )


def finish(container: Container, challenge: str, code: str) -> str | None:
    with container.sessions.begin() as s:
        return finish_sign_in(session=s, key=KEY, challenge=challenge, code=code, now=container.clock.now())


def test_the_right_code_signs_in_once_and_marks_the_phone_verified(
    container: Container, codes: FakeCodeSender
) -> None:
    sid = person(container)
    challenge = start(container, codes)
    code = codes.last_code(PHONE.value)
    assert finish(container, challenge, code) == sid
    assert finish(container, challenge, code) is None
    with container.read_sessions.begin() as s:
        assert s.query(SubjectIdentity).one().verified
        stored = s.get(OneTimeCode, challenge)
        assert (
            stored is not None and code not in stored.code_hmac and PHONE.value not in stored.identity_digest
        )


def test_a_code_expires_after_ten_minutes(container: Container, codes: FakeCodeSender, clock) -> None:  # type: ignore[no-untyped-def]
    person(container)
    challenge = start(container, codes)
    clock.advance(minutes=10, seconds=1)
    assert finish(container, challenge, codes.last_code()) is None


def test_after_five_wrong_tries_even_the_right_code_fails(
    container: Container, codes: FakeCodeSender
) -> None:
    person(container)
    challenge = start(container, codes)
    right = codes.last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(MAX_ATTEMPTS):
        assert finish(container, challenge, wrong) is None
    assert finish(container, challenge, right) is None


def test_codes_per_identity_are_limited_per_hour(container: Container, codes: FakeCodeSender, clock) -> None:  # type: ignore[no-untyped-def]
    person(container)
    for _ in range(MAX_CODES_PER_HOUR):
        start(container, codes)
    with pytest.raises(RateLimited):
        start(container, codes)
    clock.advance(hours=1, seconds=1)
    start(container, codes)


def test_an_unknown_identity_gets_a_challenge_but_no_message_and_is_limited_alike(
    container: Container, codes: FakeCodeSender
) -> None:
    stranger = Identity("email", "nobody@example.lv")
    challenge = start(container, codes, stranger)
    assert len(challenge) == 32 and codes.sent == []
    assert finish(container, challenge, "123456") is None
    for _ in range(MAX_CODES_PER_HOUR - 1):
        start(container, codes, stranger)
    with pytest.raises(RateLimited):
        start(container, codes, stranger)


def test_codes_are_compared_in_constant_time(container: Container, codes: FakeCodeSender) -> None:
    person(container)
    challenge = start(container, codes)
    with mock.patch("sargs.domains.portal.codes.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        finish(container, challenge, "999999")
    assert spy.called
