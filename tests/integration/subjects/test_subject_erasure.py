"""Erasing a person's identifiers inside Sargs: unfindable by phone or e-mail, SMS numbers and
texts cleared, a new registration is a new subject, and the ledger still verifies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sargs.core.errors import NotFound
from sargs.domains.consent.model import ConsentRejection
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.subjects.erasure import (
    erased_pseudonym_prefix,
    identifier_in,
    pseudonymise_subject,
    pseudonymise_subject_report,
    scrub_identifiers,
)
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectIdentity
from sargs.domains.subjects.service import create_subject, find_subject_id
from sargs.entrypoints.container import Container
from tests.conftest import NOW

PHONE = Identity("msisdn", "+37129100001")
EMAIL = Identity("email", "janis.berzins@example.lv")
KEY = b"k" * 32


def person(container: Container, *, note: str | None = None) -> str:
    with container.sessions.begin() as s:
        subject_id = create_subject(session=s, identities=[PHONE, EMAIL], now=NOW, groups={"lmt": "own"})
        for purpose in ("offers", "metadata"):
            record_consent(
                session=s,
                registry=container.registry,
                subject_id=subject_id,
                controller="lmt",
                purpose=purpose,
                action="grant",
                channel="sms",
                actor=Actor("system", "test"),
                now=NOW,
                evidence={"note": note} if note and purpose == "offers" else {"source": "test"},
            )
        s.add_all(
            [
                SmsInbound(
                    id="in" + subject_id[:8],
                    provider="test",
                    provider_message_id=subject_id,
                    subject_id=subject_id,
                    controller="lmt",
                    to_number="29307777",
                    text="JAUNUMI",
                    received_at=NOW,
                    recorded_at=NOW,
                    command="grant",
                    keyword="JAUNUMI",
                    outcome="granted",
                ),
                SmsOutbox(
                    id="out1" + subject_id[:8],
                    kind="reply",
                    subject_id=subject_id,
                    to_number=PHONE.value,
                    text="Paldies",
                    encoding="gsm",
                    segments=1,
                    status="sent",
                    next_attempt_at=NOW,
                    created_at=NOW,
                ),
                SmsOutbox(
                    id="out2" + subject_id[:8],
                    kind="notice",
                    subject_id=None,
                    to_number=PHONE.value,
                    text="Kods",
                    encoding="gsm",
                    segments=1,
                    status="queued",
                    next_attempt_at=NOW,
                    created_at=NOW,
                ),
            ]
        )
    return subject_id


def verify_ok(container: Container) -> bool:
    with container.read_sessions.begin() as s:
        return verify_ledger(session=s).ok


def test_after_erasure_the_person_cannot_be_found_and_the_ledger_still_verifies(container: Container) -> None:
    subject_id = person(container)
    assert verify_ok(container)
    with container.sessions.begin() as s:
        report = pseudonymise_subject_report(session=s, subject_id=subject_id, now=NOW, key=KEY)
    assert (report.identities, report.inbound_cleared, report.evidence_mentions) == (2, 1, [])
    assert report.outbox_cleared == 2  # the sent reply's number and the queued notice
    assert verify_ok(container)
    with container.sessions.begin() as s:
        assert find_subject_id(session=s, identity=PHONE) is None
        assert find_subject_id(session=s, identity=EMAIL) is None
        values = s.scalars(
            select(SubjectIdentity.value).where(SubjectIdentity.subject_id == subject_id)
        ).all()
        assert all(PHONE.value[1:] not in v and "janis" not in v for v in values)
        assert erased_pseudonym_prefix(key=KEY, identity=PHONE) + subject_id in values
        outbox = {o.id[:4]: (o.to_number, o.status) for o in s.scalars(select(SmsOutbox))}
        assert outbox == {"out1": (None, "sent"), "out2": (None, "failed")}
        assert s.get(SmsInbound, "in" + subject_id[:8]).text == ""  # type: ignore[union-attr]
        assert s.get(Subject, subject_id).erased_at is not None  # type: ignore[union-attr]


def test_registering_the_same_number_again_makes_a_new_subject_that_can_be_erased_too(
    container: Container,
) -> None:
    first = person(container)
    with container.sessions.begin() as s:
        assert pseudonymise_subject(session=s, subject_id=first, now=NOW, key=KEY) == 2
    second = person(container)
    assert second != first
    with container.sessions.begin() as s:
        assert find_subject_id(session=s, identity=PHONE) == second
        assert pseudonymise_subject(session=s, subject_id=second, now=NOW, key=KEY) == 2
    assert verify_ok(container)


def test_erasing_twice_changes_nothing_more(container: Container) -> None:
    subject_id = person(container)
    with container.sessions.begin() as s:
        pseudonymise_subject(session=s, subject_id=subject_id, now=NOW)
    with container.sessions.begin() as s:
        again = pseudonymise_subject_report(session=s, subject_id=subject_id, now=NOW)
    assert (again.identities, again.outbox_cleared, again.inbound_cleared) == (0, 0, 0)
    assert verify_ok(container)


def test_old_evidence_naming_the_person_is_reported_not_rewritten(container: Container) -> None:
    subject_id = person(container, note="called back on 29 100 001")
    with container.sessions.begin() as s:
        report = pseudonymise_subject_report(session=s, subject_id=subject_id, now=NOW, key=KEY)
    assert len(report.evidence_mentions) == 1
    assert verify_ok(container)  # the chain is untouched


def test_an_unknown_subject_is_not_found(container: Container) -> None:
    with container.sessions.begin() as s, pytest.raises(NotFound):
        pseudonymise_subject(session=s, subject_id="nobody", now=NOW)


def test_identifiers_are_recognised_in_any_spelling_and_scrubbed_from_text() -> None:
    assert identifier_in(["zvanīja +371 29100001"], [PHONE])
    assert identifier_in(["29100001"], [PHONE])
    assert identifier_in(["Janis.Berzins@Example.lv"], [EMAIL])
    assert not identifier_in(["JAUNUMI", 29307777, None], [PHONE, EMAIL])
    assert scrub_identifiers("JAUNUMI janis@example.lv +371 29 100 001") == "JAUNUMI … …"
    assert scrub_identifiers("VIETA 2 STOP") == "VIETA 2 STOP"


def test_evidence_of_refused_requests_naming_the_person_is_blanked(container: Container) -> None:
    subject_id = person(container)
    with container.sessions.begin() as s:
        s.add(
            ConsentRejection(
                id="rej1",
                subject_id=subject_id,
                controller="lmt",
                purpose="offers",
                action="grant",
                channel="sms",
                reason="not_eligible",
                message="no",
                occurred_at=NOW,
                evidence={"text": "JAUNUMI 29100001", "provider": "test"},
            )
        )
    with container.sessions.begin() as s:
        report = pseudonymise_subject_report(session=s, subject_id=subject_id, now=NOW)
    assert report.rejections_scrubbed == 1
    with container.sessions.begin() as s:
        assert s.get(ConsentRejection, "rej1").evidence == {"text": "…", "provider": "test"}  # type: ignore[union-attr]
    assert verify_ok(container)
