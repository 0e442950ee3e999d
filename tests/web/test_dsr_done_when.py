"""Issue 5's acceptance scenario: a subject files an erasure request in the portal, staff verify
identity in the console, fulfilment erases and anonymises across the sample shop database while
orders under the 10-year rule are kept and reported, the answer PDF is produced, the ledger verifies.
Runs against a real shop database: SQLite, or PostgreSQL with SARGS_TEST_DATABASE_URL."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from sargs.bootstrap import create_app, example_policy_paths
from sargs.core.db import make_engine
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import Policy
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject, find_subject_id
from sargs.entrypoints.container import Container
from sargs.integrations.sources.samples import KnownPerson, create_shop
from sargs.integrations.sources.sql import sql_connector_factory
from tests.conftest import FakeCodeSender
from tests.dsr_fakes import with_empty_mailer
from tests.helpers import run_tasks, sql_sources_only
from tests.integration.sources.conftest import source_url as source_url
from tests.web_helpers import console_login, csrf_of, portal_sign_in

C = "lytagra-lv"
PHONE = "+37129000777"
EMAIL = "ilze.done@example.lv"


def scalar(url: str, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def test_portal_erasure_verified_in_the_console_erases_the_shop_keeps_ten_year_orders_and_answers(
    container: Container,
    codes: FakeCodeSender,
    staff_member: Callable[..., tuple[str, str]],
    source_url: Callable[[str], str],
) -> None:
    now = container.clock.now()
    shop = source_url("shop")
    create_shop(shop, people=30, now=now, known=[KnownPerson(msisdn=PHONE, email=EMAIL)], orders_per_person=2)
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    orders_before = scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1")
    others_before = scalar(shop, "SELECT count(*) FROM orders WHERE customer_id <> 1")
    assert orders_before >= 2
    with container.sessions.begin() as session:
        subject_id = create_subject(
            session=session, identities=[Identity("msisdn", PHONE)], now=now, groups={C: "client"}
        )
        record_consent(
            session=session,
            registry=container.registry,
            subject_id=subject_id,
            controller=C,
            purpose="direct-marketing",
            action="grant",
            channel="portal",
            actor=Actor("subject", subject_id),
            now=now - timedelta(days=1),
        )
    app = create_app(container)

    # 1. The subject files an erasure request in the portal.
    with TestClient(app) as person:
        portal_sign_in(person, "29000777", codes.last_code)
        page = person.get("/portal/requests")
        r = person.post(
            "/portal/requests",
            data={
                "csrf": csrf_of(page.text),
                "controller": C,
                "kind": "erasure",
                "ground": "no_longer_needed",
                "name": "Ilze Kalniņa",
                "address": "Rīga, Tērbatas iela 1",
                "details": "Lūdzu dzēsiet manus datus.",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        mine = person.get("/portal/requests")
        assert "Dzēst manus datus" in mine.text and "saņemts" in mine.text

    # 2. An operator sees it (due in 30 days) and verifies identity (signed in with a code).
    with TestClient(app) as operator:
        console_login(operator, *staff_member("operator", controllers=[C]))
        listing = operator.get("/console/dsr?lang=en")
        [request_id] = set(re.findall(r"/console/dsr/([0-9a-f]{32})", listing.text))
        assert (now + timedelta(days=30)).strftime("%Y-%m-%d") in listing.text
        detail = operator.get(f"/console/dsr/{request_id}?lang=en")
        assert 'data-status="received"' in detail.text
        r = operator.post(
            f"/console/dsr/{request_id}/fulfil", data={"csrf": csrf_of(detail.text)}, follow_redirects=False
        )
        assert r.status_code == 403  # the operator takes requests in; the DPO fulfils them
        r = operator.post(
            f"/console/dsr/{request_id}/verify",
            data={"csrf": csrf_of(detail.text), "method": "portal_session"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    # 3. The DPO runs fulfilment against the shop database.
    with TestClient(app) as dpo:
        console_login(dpo, *staff_member("dpo", controllers=[C]))
        detail = dpo.get(f"/console/dsr/{request_id}?lang=en")
        assert 'data-status="verified"' in detail.text
        r = dpo.post(
            f"/console/dsr/{request_id}/fulfil", data={"csrf": csrf_of(detail.text)}, follow_redirects=False
        )
        assert r.status_code == 303, r.text
        # Queued for the worker: the page polls the task's progress per source.
        queued = dpo.get(r.headers["location"].replace("#task", "") + "&lang=en")
        assert 'data-task-status="queued"' in queued.text
        assert f'hx-get="/console/dsr/{request_id}/progress"' in queued.text
        assert run_tasks(container) == 1
        progress = dpo.get(f"/console/dsr/{request_id}/progress?lang=en", headers={"HX-Request": "true"})
        assert 'data-task-status="done"' in progress.text and progress.headers["HX-Refresh"] == "true"
        assert 'data-source="shop" data-state="ok"' in progress.text and "hx-get" not in progress.text
        detail = dpo.get(f"/console/dsr/{request_id}?lang=en")
        assert 'data-status="partially_fulfilled"' in detail.text
        assert 'data-source="shop" data-status="ok"' in detail.text

        # The shop: recent orders kept (10-year rule), old ones deleted, the customer anonymised,
        # e-mail events gone, nobody else touched.
        kept = scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1")
        assert 0 < kept < orders_before
        cutoff = (now - timedelta(days=3652)).replace(tzinfo=None)
        assert (
            scalar(shop, "SELECT count(*) FROM orders WHERE customer_id = 1 AND placed_at < :c", c=cutoff)
            == 0
        )
        assert scalar(shop, "SELECT count(*) FROM email_events WHERE customer_id = 1") == 0
        assert scalar(shop, "SELECT count(*) FROM customers WHERE email = :e", e=EMAIL) == 0
        assert scalar(shop, "SELECT count(*) FROM orders WHERE customer_id <> 1") == others_before

        # 4. The answer (the requester's language, Latvian) as a PDF: what was kept and why, the DVI.
        pdf = dpo.get(f"/console/dsr/{request_id}/answer?format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        flat = " ".join(text.split())
        assert "Atbilde uz datu subjekta pieprasījumu" in flat
        assert "10 gadus" in flat and "Datu valsts inspekcija" in flat
        html = dpo.get(f"/console/dsr/{request_id}/answer?format=html&lang=en")
        assert "Order and invoice data are kept for 10 years" in html.text

    # 5. Sargs no longer finds the person by phone, and the ledger still verifies.
    with container.sessions.begin() as session:
        assert find_subject_id(session=session, identity=Identity("msisdn", PHONE)) is None
        assert verify_ledger(session=session).ok


def test_the_person_downloads_their_portability_export_and_nobody_else_can(
    container: Container,
    codes: FakeCodeSender,
    staff_member: Callable[..., tuple[str, str]],
    source_url: Callable[[str], str],
) -> None:
    import zipfile

    now = container.clock.now()
    shop = source_url("shop")
    create_shop(shop, people=10, now=now, known=[KnownPerson(msisdn=PHONE, email=EMAIL)])
    container.sources = with_empty_mailer(sql_connector_factory({"SARGS_SOURCE_SHOP_URL": shop}))
    with container.sessions.begin() as session:
        create_subject(session=session, identities=[Identity("msisdn", PHONE)], now=now, groups={C: "client"})
        create_subject(
            session=session, identities=[Identity("msisdn", "+37129000778")], now=now, groups={C: "client"}
        )
    app = create_app(container)
    with TestClient(app) as person:
        portal_sign_in(person, PHONE, codes.last_code)
        page = person.get("/portal/requests")
        data = {
            "csrf": csrf_of(page.text),
            "controller": C,
            "kind": "portability",
            "name": "I K",
            "address": "Rīga",
        }
        assert person.post("/portal/requests", data=data, follow_redirects=False).status_code == 303
        with TestClient(app) as dpo:
            console_login(dpo, *staff_member("dpo"))
            [rid] = set(re.findall(r"/console/dsr/([0-9a-f]{32})", dpo.get("/console/dsr").text))
            page = dpo.get(f"/console/dsr/{rid}")
            dpo.post(
                f"/console/dsr/{rid}/verify", data={"csrf": csrf_of(page.text), "method": "portal_session"}
            )
            r = dpo.post(
                f"/console/dsr/{rid}/fulfil", data={"csrf": csrf_of(page.text)}, follow_redirects=False
            )
            assert r.status_code == 303
            assert run_tasks(container) == 1
        listing = person.get("/portal/requests?lang=en").text
        assert f"/portal/requests/{rid}/export" in listing
        export = person.get(f"/portal/requests/{rid}/export")
        assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(export.content))
        assert EMAIL in " ".join(archive.read(n).decode() for n in archive.namelist())
        answer = person.get(f"/portal/requests/{rid}/answer?format=html&lang=en")
        assert answer.status_code == 200 and "Data portability" in answer.text
    with TestClient(app) as other:
        portal_sign_in(other, "+37129000778", codes.last_code)
        assert other.get(f"/portal/requests/{rid}/export").status_code == 404
        assert other.get(f"/portal/requests/{rid}/answer").status_code == 404


@pytest.fixture(scope="module")
def example_policies() -> list[Policy]:
    """Without the retailer's paper archive: its manual task is tested in test_dsr_followups."""
    return sql_sources_only([load_policy(p) for p in example_policy_paths()])
