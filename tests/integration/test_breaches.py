"""The breach register on a real database (R-BRE-1..3): Art. 33(3) content checked field by field,
the lifecycle and its append-only trail, the 72-hour clock, scope, and telling affected people once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sargs.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sargs.domains.access.principal import Principal
from sargs.domains.breaches import service as breaches
from sargs.domains.breaches.model import BreachChange, BreachSubjectNotice
from sargs.domains.breaches.notification import authority_notification, notification_document
from sargs.domains.breaches.subjects import notify_affected, source_identities
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy.sources import DataSource
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import add_identity, get_or_create_subject
from sargs.entrypoints.container import Container
from sargs.entrypoints.notices import mail_queue
from sargs.integrations.documents.pdf import render_pdf
from tests.conftest import NOW

DPO = Principal(kind="staff", id="dpo-1", role="dpo", controllers=None)
LMT_ONLY = Principal(kind="staff", id="dpo-2", role="dpo", controllers=("lmt",))
SECRET = b"test-secret"


def _values(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Loyalty database copied by an intruder",
        "nature": "Unauthorised access to the loyalty programme database via a stolen password.",
        "breach_types": ["confidentiality"],
        "aware_at": NOW - timedelta(hours=20),
        "occurred_at": NOW - timedelta(days=2),
        "data_categories": ["identification", "contact", "loyalty-transactions"],
        "subject_categories": ["own"],
        "approx_subjects": 1200,
        "approx_records": 56000,
        "consequences": "Phishing messages to members; no financial data involved.",
        "measures": "Password reset, access revoked, members warned.",
        "affected_tables": ["loyalty.members"],
    }
    values.update(over)
    return values


def _register(
    container: Container, by: Principal = DPO, controller: str = "lmt", **over: Any
) -> breaches.BreachView:
    with container.sessions.begin() as session:
        return breaches.register_breach(
            session=session,
            registry=container.registry,
            controller=controller,
            values=_values(**over),
            by=by,
            now=NOW,
        )


def _do(container: Container, fn: Any, **kw: Any) -> Any:
    with container.sessions.begin() as session:
        return fn(
            session=session, registry=container.registry, by=kw.pop("by", DPO), now=kw.pop("now", NOW), **kw
        )


def test_a_registered_breach_is_open_with_its_clock_running_from_awareness(container: Container) -> None:
    view = _register(container)
    assert view.status == "open" and view.policy_id == "lmt-group"
    assert view.clock.due_at == NOW - timedelta(hours=20) + timedelta(hours=72)
    assert view.clock.state == "running" and view.clock.remaining_seconds == 52 * 3600
    got = _do(container, breaches.get_breach, breach_id=view.id)
    assert got.approx_subjects == 1200 and got.affected_tables == ["loyalty.members"]
    assert [c.action for c in got.changes] == ["register"]
    assert got.changes[0].actor == "staff:dpo-1"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"data_categories": ["health"]}, "data_categories"),
        ({"subject_categories": ["vip"]}, "subject_categories"),
        ({"affected_tables": ["shop.customers"]}, "affected_tables"),  # the retailer's source, not LMT's
        ({"aware_at": NOW + timedelta(hours=1)}, "aware_at"),
        ({"occurred_at": NOW - timedelta(hours=1)}, "occurred_at"),  # after awareness
        ({"approx_subjects": -1}, "approx_subjects"),
        ({"breach_types": ["secrecy"]}, "breach_types"),
        ({"title": "  "}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_breach_fields_are_refused_naming_the_field_and_nothing_is_written(
    container: Container, over: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        _register(container, **over)
    assert err.value.details["field"] == field
    with container.read_sessions.begin() as session:
        assert session.scalar(text("select count(*) from breaches")) == 0


def test_the_lifecycle_runs_open_assessed_notified_closed_and_the_trail_keeps_every_step(
    container: Container,
) -> None:
    b = _register(container)
    with pytest.raises(Conflict, match="assess the risk"):
        _do(container, breaches.file_notification, breach_id=b.id, phase="initial", content={})
    b = _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="risk",
        reasoning="Contact data of members could be used for phishing.",
    )
    assert b.status == "assessed"
    note = _do(
        container,
        breaches.file_notification,
        breach_id=b.id,
        phase="initial",
        content={"x": 1},
        authority_reference="DVI-17",
    )
    assert note.late is False
    b = _do(
        container,
        breaches.update_breach,
        breach_id=b.id,
        values={"approx_subjects": 1500},
        now=NOW + timedelta(hours=1),
    )
    assert b.status == "notified" and b.clock.state == "met"
    with pytest.raises(Conflict, match="time of awareness"):
        _do(container, breaches.update_breach, breach_id=b.id, values={"aware_at": NOW - timedelta(hours=30)})
    _do(container, breaches.file_notification, breach_id=b.id, phase="final", content={})
    b = _do(container, breaches.close_breach, breach_id=b.id)
    assert b.status == "closed"
    with pytest.raises(Conflict):
        _do(container, breaches.update_breach, breach_id=b.id, values={"title": "x"})
    got = _do(container, breaches.get_breach, breach_id=b.id)
    assert [c.action for c in got.changes] == ["register", "assess", "notify", "update", "notify", "close"]
    assert got.changes[3].changes == {"approx_subjects": {"from": 1200, "to": 1500}}
    assert got.phases == ["initial", "final"]


def test_the_trail_cannot_be_edited_or_deleted(container: Container) -> None:
    b = _register(container)
    for statement in ("update breach_changes set actor = 'someone else'", "delete from breach_changes"):
        with pytest.raises(DBAPIError), container.sessions.begin() as session:
            session.execute(text(statement))
    with container.read_sessions.begin() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(BreachChange).where(BreachChange.breach_id == b.id)
            )
            == 1
        )


def test_a_late_initial_notification_needs_the_reasons_for_the_delay(container: Container) -> None:
    b = _register(container, aware_at=NOW - timedelta(hours=80), occurred_at=None)
    assert b.clock.state == "overdue"
    _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="high",
        reasoning="Passwords and phone numbers exposed.",
    )
    with pytest.raises(InvalidInput) as err:
        _do(container, breaches.file_notification, breach_id=b.id, phase="initial", content={})
    assert err.value.details["field"] == "delay_reasons"
    note = _do(
        container,
        breaches.file_notification,
        breach_id=b.id,
        phase="initial",
        content={},
        delay_reasons="The intrusion was confirmed by forensic analysis only on day four.",
    )
    assert note.late
    got = _do(container, breaches.get_breach, breach_id=b.id)
    assert got.clock.state == "late"
    with pytest.raises(Conflict, match="people concerned"):
        _do(container, breaches.close_breach, breach_id=b.id)
    _do(
        container,
        breaches.record_exemption,
        breach_id=b.id,
        ground="protected_data",
        explanation="Passwords were salted and hashed with argon2id.",
    )
    assert _do(container, breaches.close_breach, breach_id=b.id).status == "closed"


def test_no_risk_closes_without_notification_with_the_reasons_on_record(container: Container) -> None:
    b = _register(container)
    b = _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="none",
        reasoning="The lost laptop was fully encrypted.",
    )
    assert b.clock.state == "not_required"
    with pytest.raises(Conflict, match="no notification is needed"):
        _do(container, breaches.file_notification, breach_id=b.id, phase="initial", content={})
    assert _do(container, breaches.close_breach, breach_id=b.id).status == "closed"


def test_staff_of_another_controller_neither_see_nor_register_its_breaches(container: Container) -> None:
    b = _register(
        container,
        controller="lytagra-lv",
        data_categories=["name"],
        subject_categories=["client"],
        affected_tables=["shop.customers"],
    )
    with pytest.raises(NotFound):
        _do(container, breaches.get_breach, breach_id=b.id, by=LMT_ONLY)
    with pytest.raises(PermissionDenied):
        _register(
            container,
            by=LMT_ONLY,
            controller="lytagra-lv",
            data_categories=["name"],
            subject_categories=["client"],
            affected_tables=[],
        )
    assert [v.id for v in _do(container, breaches.list_breaches, by=LMT_ONLY)] == []
    assert [v.id for v in _do(container, breaches.list_breaches)] == [b.id]


def test_the_authority_notification_carries_every_art_33_3_field_in_both_languages(
    container: Container,
) -> None:
    b = _register(container)
    b = _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="risk",
        reasoning="Contact data could be used for phishing.",
    )
    policy = container.registry.policy_for("lmt")
    for lang, word in (("lv", "Datu valsts inspekcija"), ("en", "Data State Inspectorate")):
        content = authority_notification(breach=b, policy=policy, language=lang, now=NOW)
        assert content["authority"]["name"] == word
        breach = content["breach"]
        for key in (
            "nature",
            "breach_types",
            "data_categories",
            "subject_categories",
            "approximate_number_of_subjects",
            "approximate_number_of_records",
            "likely_consequences",
            "measures",
            "aware_at",
            "notification_deadline",
        ):
            assert breach[key] not in (None, "", []), key
        assert content["contact_point"]["url"] == "https://www.lmt.lv/lv/kontakti-v2"
        assert content["controller"]["registration_number"] == "50003050931"
        assert content["risk"]["level"] == "risk"
        assert "delay_reasons" in content and "late" in content
        pdf_text = _pdf_text(render_pdf(notification_document(content)))
        assert word in pdf_text and "Phishing messages to members" in pdf_text
    assert "Pārkāpuma būtība" in _pdf_text(
        render_pdf(
            notification_document(authority_notification(breach=b, policy=policy, language="lv", now=NOW))
        )
    )


def _pdf_text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


# --- telling affected people -------------------------------------------------------------------


class FakeConnector:
    def __init__(self, found: dict[str, list[Identity]]) -> None:
        self.found = found

    def identities(self, *, tables: Sequence[str] | None = None) -> Iterator[Identity]:
        for t in tables or list(self.found):
            yield from self.found.get(t, [])

    def collect(self, **kw: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError

    def erase(self, **kw: Any) -> Any:  # pragma: no cover
        raise NotImplementedError


class FakeMail:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def enqueue(
        self,
        *,
        session: Session,
        to: str,
        subject: str,
        text: str,
        headers: dict[str, str],
        kind: str,
        now: datetime,
        subject_id: str | None = None,
    ) -> str:
        assert kind == "breach" and headers["X-Sargs-Breach"]
        self.sent.append((to, subject, text))
        return f"mail-{len(self.sent)}"


def _known_person(container: Container) -> str:
    with container.sessions.begin() as session:
        sid, _ = get_or_create_subject(
            session=session,
            identity=Identity("msisdn", "+37129000111"),
            controller="lmt",
            default_group="own",
            now=NOW,
        )
        add_identity(session=session, subject_id=sid, identity=Identity("email", "anna@example.lv"), now=NOW)
        return sid


def _high(container: Container) -> breaches.BreachView:
    b = _register(container)
    return _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="high",
        reasoning="Phone numbers and card numbers were exposed.",
    )


def _notify(
    container: Container, people: list[Identity], mail: Any, *, own: bool = False, batch: int = 2
) -> Any:
    return notify_affected(
        sessions=container.sessions,
        policy=container.registry.policy_for("lmt"),
        breach_id=BREACH[0],
        by=DPO,
        identities=people,
        include_own_subjects=own,
        secret=SECRET,
        now=container.clock.now,
        mail=mail,
        batch=batch,
    )


BREACH: list[str] = []


def test_each_affected_person_is_told_once_even_when_the_run_is_repeated(container: Container) -> None:
    _known_person(container)
    b = _high(container)
    BREACH[:] = [b.id]
    connector = FakeConnector(
        {
            "members": [
                Identity("msisdn", "+37129000111"),  # the known person, by phone ...
                Identity("email", "anna@example.lv"),  # ... and by e-mail: still one person
                Identity("email", "janis@example.lv"),
                Identity("msisdn", "+37129000222"),
                Identity("customer", "C-9"),  # nobody Sargs can reach
            ],
            "transactions": [Identity("msisdn", "+37129000999")],
        }
    )
    policy = container.registry.policy_for("lmt")
    people = list(
        source_identities(policy=policy, affected_tables=b.affected_tables, connectors=lambda s: connector)  # type: ignore[arg-type,return-value]
    )
    assert len(people) == 5  # only the affected table
    mail = FakeMail()
    report = _notify(container, people, mail)
    assert (report.sms, report.email, report.unreachable, report.already) == (2, 1, 1, 0)
    assert report.batches == 3
    assert [m[0] for m in mail.sent] == ["janis@example.lv"]
    assert (
        "personas datu aizsardzības pārkāpums" in mail.sent[0][2]
        and "personal data breach" in mail.sent[0][2]
    )
    again = _notify(container, people, mail)
    # the person with no phone or e-mail is not recorded as told: every run counts them again
    assert (again.queued, again.already, again.unreachable) == (0, 3, 1)
    with container.read_sessions.begin() as session:
        texts = [r.to_number for r in session.scalars(select(SmsOutbox).where(SmsOutbox.kind == "notice"))]
        assert sorted(texts) == ["+37129000111", "+37129000222"]
        keys = list(session.scalars(select(BreachSubjectNotice.person_key)))
        assert len(keys) == 3 and not any("+371" in k or "@" in k for k in keys)
    got = _do(container, breaches.get_breach, breach_id=b.id)
    assert got.subjects_notified == 3 and got.subjects_handled
    assert [c.action for c in got.changes][-2:] == ["notify_subjects", "notify_subjects"]


def test_people_reachable_only_by_e_mail_wait_for_an_e_mail_outbox(container: Container) -> None:
    b = _high(container)
    BREACH[:] = [b.id]
    people = [Identity("email", "a@example.lv"), Identity("msisdn", "+37129000333")]
    first = _notify(container, people, None)
    assert (first.sms, first.email_unavailable) == (1, 1)
    mail = FakeMail()
    second = _notify(container, people, mail)
    assert (second.email, second.already) == (1, 1)


def test_e_mail_notices_land_in_the_e_mail_outbox_once_per_person(container: Container) -> None:
    b = _high(container)
    BREACH[:] = [b.id]
    people = [Identity("email", "liga@example.lv"), Identity("email", "peteris@example.lv")]
    first = _notify(container, people, mail_queue(container))
    again = _notify(container, people, mail_queue(container))
    assert (first.email, again.email, again.already) == (2, 0, 2)
    with container.sessions() as session:
        rows = session.execute(select(MailOutbox.kind, MailOutbox.to_address, MailOutbox.headers)).all()
    assert sorted(r.to_address for r in rows) == ["liga@example.lv", "peteris@example.lv"]
    assert {r.kind for r in rows} == {"breach"}
    assert all(r.headers["X-Sargs-Breach"] == b.id for r in rows)


def test_own_subjects_of_the_controller_are_included_when_asked(container: Container) -> None:
    _known_person(container)
    b = _high(container)
    BREACH[:] = [b.id]
    report = _notify(container, [], FakeMail(), own=True)
    assert report.sms == 1


def test_only_high_risk_breaches_without_an_exemption_tell_people(container: Container) -> None:
    b = _register(container)
    BREACH[:] = [b.id]
    with pytest.raises(Conflict, match="high-risk"):
        _notify(container, [Identity("msisdn", "+37129000333")], None)
    _do(
        container,
        breaches.assess_breach,
        breach_id=b.id,
        risk="high",
        reasoning="Phone numbers were exposed.",
    )
    _do(
        container,
        breaches.record_exemption,
        breach_id=b.id,
        ground="disproportionate_effort",
        explanation="Public notice on lmt.lv instead.",
    )
    with pytest.raises(Conflict, match="exemption"):
        _notify(container, [Identity("msisdn", "+37129000333")], None)


def test_the_source_of_identities_is_the_declared_one(container: Container) -> None:
    seen: list[str] = []

    def factory(source: DataSource) -> FakeConnector:
        seen.append(source.id)
        return FakeConnector({})

    policy = container.registry.policy_for("lytagra-lv")
    assert (
        list(source_identities(policy=policy, affected_tables=["shop.customers"], connectors=factory)) == []
    )  # type: ignore[arg-type]
    assert seen == ["shop"]


def test_two_runs_at_once_still_tell_each_person_once(container: Container) -> None:
    import threading

    b = _high(container)
    BREACH[:] = [b.id]
    people = [Identity("msisdn", f"+3712900{n:04d}") for n in range(600)]
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(_notify(container, people, None, batch=50))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.sms for r in reports) == 600
    assert sum(r.already for r in reports) == 600
    with container.read_sessions.begin() as session:
        numbers = list(session.scalars(select(SmsOutbox.to_number).where(SmsOutbox.kind == "notice")))
    assert len(numbers) == len(set(numbers)) == 600
    assert _do(container, breaches.get_breach, breach_id=b.id).subjects_notified == 600
