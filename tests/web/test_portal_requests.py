"""Issue 16 part 5: in the portal a person follows a request on a timeline, completes what a
request on hold lacks, and cancels a request (idempotently; a fulfilment task then does nothing).
Through the ASGI app on SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.bootstrap import create_app
from sargs.domains.audit.model import AccessLogEntry
from sargs.domains.dsr.model import DsrEvent, DsrRequest
from sargs.domains.dsr.service import DsrActor, hold, lock_request, start_work, verify_identity
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.web_helpers import csrf_of, portal_sign_in

PHONE = "+37129000611"
OTHER = "+37129000612"


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


@pytest.fixture
def subject_id(container: Container) -> str:
    with container.sessions.begin() as s:
        create_subject(
            session=s,
            identities=[Identity("msisdn", OTHER)],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )
        return create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE)],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )


def _file(
    browser: TestClient,
    container: Container,
    subject_id: str,
    kind: str,
    details: str = "",
    named: bool = False,
) -> str:
    page = browser.get("/portal/requests")
    r = browser.post(
        "/portal/requests",
        data={
            "csrf": csrf_of(page.text),
            "controller": "lmt",
            "kind": kind,
            "details": details,
            **({"name": "Ilze Bērziņa", "address": "Rīga"} if named else {}),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with container.read_sessions.begin() as s:
        return s.scalars(
            select(DsrRequest.id)
            .where(DsrRequest.subject_id == subject_id)
            .order_by(DsrRequest.received_at.desc())
        ).first()  # type: ignore[return-value]


def _status(container: Container, rid: str) -> str:
    with container.read_sessions.begin() as s:
        row = s.get(DsrRequest, rid)
        assert row is not None
        return row.status


def _events(container: Container, rid: str, action: str) -> int:
    with container.read_sessions.begin() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(DsrEvent)
                .where(DsrEvent.request_id == rid, DsrEvent.action == action)
            )
            or 0
        )


def test_cancel_is_recorded_idempotent_and_a_queued_fulfilment_then_does_nothing(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    portal_sign_in(browser, PHONE, codes.last_code)
    rid = _file(browser, container, subject_id, "access", "all of it")
    detail = browser.get(f"/portal/requests/{rid}?lang=en")
    assert detail.status_code == 200
    assert "Request received" in detail.text and "Answer due by" in detail.text
    with container.read_sessions.begin() as s:
        logs_before = s.scalar(select(func.count()).select_from(AccessLogEntry)) or 0
    for _ in range(2):  # the second cancel changes nothing
        r = browser.post(
            f"/portal/requests/{rid}/cancel",
            data={"csrf": csrf_of(detail.text), "reason": "changed my mind"},
            follow_redirects=False,
        )
        assert r.status_code == 303
    assert _status(container, rid) == "cancelled"
    assert _events(container, rid, "cancelled") == 1
    with container.read_sessions.begin() as s:
        assert (s.scalar(select(func.count()).select_from(AccessLogEntry)) or 0) > logs_before
    page = browser.get(f"/portal/requests/{rid}?lang=en").text
    assert "Cancelled" in page and 'id="cancel-form"' not in page and "/answer" not in page
    # A fulfilment task queued before the cancel finds a closed request and does nothing.
    from sargs.domains.dsr.fulfilment import accept_for_fulfilment

    with container.sessions.begin() as s:
        assert (
            accept_for_fulfilment(
                session=s, request_id=rid, actor=DsrActor("system", None), now=container.clock.now()
            )
            is None
        )
    assert _status(container, rid) == "cancelled"


def test_cancel_during_fulfilment_clears_the_lease_so_the_task_stops(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    portal_sign_in(browser, PHONE, codes.last_code)
    rid = _file(browser, container, subject_id, "access", "all of it", named=True)
    now = container.clock.now()
    with container.sessions.begin() as s:
        req = lock_request(session=s, request_id=rid)
        verify_identity(
            session=s,
            request=req,
            method="portal_session",
            evidence={},
            actor=DsrActor("staff", "u1"),
            now=now,
        )
        start_work(session=s, request=req, actor=DsrActor("staff", "u1"), now=now)
        req.lease_owner, req.lease_until = "worker-1", now.replace(year=now.year + 1)
    page = browser.get(f"/portal/requests/{rid}")
    r = browser.post(
        f"/portal/requests/{rid}/cancel", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    from sargs.domains.dsr.fulfilment import _still_ours

    with container.sessions.begin() as s:
        assert not _still_ours(s, rid, "worker-1", now)
        row = s.get(DsrRequest, rid)
        assert row is not None and (row.status, row.lease_owner) == ("cancelled", None)


def test_a_request_on_hold_is_completed_and_goes_back_to_staff(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    portal_sign_in(browser, PHONE, codes.last_code)
    rid = _file(browser, container, subject_id, "rectification")  # no details, no name: incomplete
    with container.sessions.begin() as s:
        req = lock_request(session=s, request_id=rid)
        hold(
            session=s,
            request=req,
            message="Please say what to correct",
            actor=DsrActor("staff", "u1"),
            now=container.clock.now(),
        )
    page = browser.get(f"/portal/requests/{rid}?lang=en")
    assert "Please say what to correct" in page.text and 'id="complete-form"' in page.text
    # Bad input: the missing name left empty -> 422 with a message, nothing written.
    bad = browser.post(
        f"/portal/requests/{rid}/complete",
        data={"csrf": csrf_of(page.text), "details": "my surname is wrong"},
    )
    assert bad.status_code == 422 and "fill in" in bad.text
    assert _status(container, rid) == "on_hold" and _events(container, rid, "content_completed") == 0
    ok = browser.post(
        f"/portal/requests/{rid}/complete",
        data={
            "csrf": csrf_of(page.text),
            "name": "Ilze Bērziņa",
            "address": "Rīga, Brīvības 1",
            "details": "my surname is wrong",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert _status(container, rid) == "received"
    text = browser.get(f"/portal/requests/{rid}?lang=en").text
    assert "You added information" in text and "Work resumed" in text
    # Completing again: the request no longer waits -> 409.
    again = browser.post(
        f"/portal/requests/{rid}/complete", data={"csrf": csrf_of(page.text), "details": "x y z"}
    )
    assert again.status_code == 409


def test_another_persons_request_does_not_exist(
    container: Container, codes: FakeCodeSender, subject_id: str
) -> None:
    with TestClient(create_app(container)) as owner, TestClient(create_app(container)) as other:
        portal_sign_in(owner, PHONE, codes.last_code)
        rid = _file(owner, container, subject_id, "access", "all")
        portal_sign_in(other, OTHER, codes.last_code)
        page = other.get("/portal/requests")
        assert other.get(f"/portal/requests/{rid}").status_code == 404
        r = other.post(f"/portal/requests/{rid}/cancel", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 404
    assert _status(container, rid) == "received"


def test_stored_results_are_purged_after_the_retention_period_and_the_ledger_still_verifies(
    browser: TestClient, codes: FakeCodeSender, subject_id: str, container: Container
) -> None:
    from sqlalchemy import text

    from sargs.domains.consent.verify import verify_ledger
    from sargs.domains.dsr.model import DsrSourceRun
    from sargs.domains.dsr.purge import purge_results
    from sargs.domains.dsr.service import close

    portal_sign_in(browser, PHONE, codes.last_code)
    rid = _file(browser, container, subject_id, "access", "all of it", named=True)
    now = container.clock.now()
    staff = DsrActor("staff", "u1")
    with container.sessions.begin() as s:
        req = lock_request(session=s, request_id=rid)
        verify_identity(session=s, request=req, method="portal_session", evidence={}, actor=staff, now=now)
        start_work(session=s, request=req, actor=staff, now=now)
        s.add(
            DsrSourceRun(
                request_id=rid,
                source="crm",
                operation="collect",
                status="ok",
                attempts=1,
                result={"found": {"email": ["ilze@example.lv"]}},
            )
        )
        s.flush()
        close(session=s, request=req, outcome="fulfilled", text="Here is your data", actor=staff, now=now)
    detail = browser.get(f"/portal/requests/{rid}?lang=en").text
    import re

    link = re.search(r'href="(/portal/answers/[^"?]+)\?format=html"', detail)
    assert link, detail
    assert browser.get(link.group(1) + "?format=html").status_code == 200
    forged = link.group(1)[:-3] + ("AAA" if not link.group(1).endswith("AAA") else "BBB")
    assert browser.get(forged).status_code == 404
    days = container.registry.policy_for("lmt").deadlines.dsr_result_retention_days
    assert days == 30  # the documented default
    with container.sessions.begin() as s:  # within the period: kept
        assert purge_results(session=s, registry=container.registry, now=container.clock.now()).runs == 0
    container.clock.advance(days=days + 1)  # type: ignore[attr-defined]
    with container.sessions.begin() as s:
        report = purge_results(session=s, registry=container.registry, now=container.clock.now())
    assert (report.requests, report.runs) == (1, 1)
    with container.read_sessions.begin() as s:
        stored = s.execute(
            text("SELECT result FROM dsr_source_runs WHERE request_id = :r"), {"r": rid}
        ).scalar()
        assert stored is None  # SQL NULL: nothing collected is left
        assert _events(container, rid, "results_purged") == 1
        assert verify_ledger(session=s).ok
    with container.sessions.begin() as s:  # rerun: nothing more
        assert purge_results(session=s, registry=container.registry, now=container.clock.now()).requests == 0
    # The export is gone with a clear page; the answer letter itself stays.
    portal_sign_in(browser, PHONE, codes.last_code)  # a month later the old session has ended
    expired = browser.get(link.group(1) + "?format=html&lang=en")
    assert expired.status_code == 410 and "link has expired" in expired.text
    gone = browser.get(f"/portal/requests/{rid}/export?lang=en")
    assert gone.status_code == 410 and "purged" in gone.text
