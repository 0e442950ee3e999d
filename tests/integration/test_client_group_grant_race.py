"""A grant racing a leave (issue 19): a person texts METADATI while a sync moves them out of LMT's own
clients. Whichever order the two commit in, no own-clients-only consent is granted to someone who is
no longer an own client. On PostgreSQL the grant's locking statement waits for the leave's lock and
then must not answer from the snapshot it took before waiting."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from sargs.domains.consent.service import Actor, ConsentOutcome, record_consent
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.model import Subject, SubjectGroup
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container


def test_a_grant_waiting_on_a_leave_sees_the_new_group(container: Container) -> None:
    now = container.clock.now()
    with container.sessions.begin() as s:
        sid = create_subject(
            session=s, identities=[Identity("msisdn", "+37129800077")], now=now, groups={"lmt": "own"}
        )

    outcome: list[ConsentOutcome] = []
    errors: list[BaseException] = []

    def grant() -> None:
        try:
            with container.sessions.begin() as s:
                outcome.append(
                    record_consent(
                        session=s,
                        registry=container.registry,
                        subject_id=sid,
                        controller="lmt",
                        purpose="metadata",
                        action="grant",
                        channel="sms",
                        actor=Actor("subject", "sms"),
                        now=now,
                    )
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    leave = container.sessions()
    leave.begin()
    # The leave locks the person first, as every group change that may lapse consents does, then moves them.
    leave.execute(sa.select(Subject.id).where(Subject.id == sid).with_for_update()).all()
    leave.execute(
        sa.update(SubjectGroup)
        .where(SubjectGroup.subject_id == sid, SubjectGroup.controller == "lmt")
        .values(client_group="other_operator")
    )
    writer = threading.Thread(target=grant)
    writer.start()
    time.sleep(0.5)  # the grant is now waiting for the person's lock (PostgreSQL) or the write lock (SQLite)
    leave.commit()
    leave.close()
    writer.join(30)
    assert not writer.is_alive() and not errors, errors
    [result] = outcome
    assert result.event is None, "granted to a person who had left the own-clients group"
    assert result.rejection is not None
