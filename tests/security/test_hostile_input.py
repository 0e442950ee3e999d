"""Hostile input (issue 8, part 4) through the real ASGI app: oversized bodies, deep JSON, bad
encodings, wrong content types, NUL and control characters, SQL and HTML/JS injection strings in
every text field of every write route (and the identities in paths and queries).

The rule for every request: never a 5xx. A refusal is a 4xx that says what is wrong (the API's
`{"error": {"code", "message"}}`, or a console/portal page with the message) and leaves every
table as it was (the access log may record a refused read); a 2xx/3xx means the input was taken
as plain data. The property-based fuzzers live in tests/fuzz/.

A bug found here but fixed elsewhere can be listed in KNOWN_BUGS (excluded from the matrix) and
pinned by a strict xfail test until it is fixed; the ones found so far are fixed and kept as
regression tests at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from sargs.bootstrap import create_app
from sargs.core.db import Base
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.consent.verify import verify_ledger
from sargs.domains.dsr.model import DsrRequest
from sargs.domains.sms.model import SmsInbound
from sargs.domains.sms.signatures import sign_json, twilio_signature
from sargs.domains.staff.model import StaffMember
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.api.middleware import MAX_BODY, JsonNulScanner
from sargs.entrypoints.container import Container
from tests.conftest import FakeCodeSender
from tests.helpers import PG_URL
from tests.security.asgi import http_scope, run_asgi
from tests.web_helpers import console_csrf, console_login, csrf_of, portal_csrf, portal_sign_in

PHONE = "+37129000401"
TWILIO_TOKEN = "twilio-test-token"
WEBHOOK = "/api/v1/sms/inbound"

SURROGATE = "\ud800"  # a lone UTF-16 surrogate: only a JSON escape can carry it
PAYLOADS = [
    # SQL
    "' OR '1'='1",
    "'; DROP TABLE consent_events; --",
    "1) OR pg_sleep(2) IS NULL --",
    '" OR ""="',
    "admin'--",
    "%' AND 1=1 AND '%'='",
    # markup and script
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg/onload=window.__xss=1>',
    "javascript:alert(1)",
    "{{7*7}}{% raw %}${7*7}",
    # NUL and control characters
    "a\x00b",
    "\x00",
    "\x01\x02\x07\x08\x1b[31mred\x7f",
    "line1\r\nX-Injected: 1",
    "\u202eevil\u202c",
    "\ufeff\u200b",
    # other awkward text
    "Sadarbība ☎ 日本語 😀",
    "x" * 5000,
    "",
    "   ",
    "%00%FF%2e%2e/",
    "../../../etc/passwd",
    SURROGATE,
]
PRINTABLE = re.compile(r"[\x20-\x7e]*")


# --- the world the requests run in ------------------------------------------------------------------


class World:
    """The app, a person with one consent, tokens; signed-in console and portal clients are made
    on first use (password hashing is slow, and most cases need none of them)."""

    def __init__(
        self,
        container: Container,
        codes: FakeCodeSender,
        token: Callable[..., str],
        staff_member: Callable[..., tuple[str, str]],
    ) -> None:
        self.container, self.codes, self.staff_member = container, codes, staff_member
        container.settings.sms_twilio_auth_token = TWILIO_TOKEN
        with container.sessions.begin() as s:
            self.subject_id = create_subject(
                session=s,
                identities=[Identity("msisdn", PHONE)],
                now=container.clock.now(),
                groups={"lmt": "own"},
            )
        with container.sessions.begin() as s:
            event = record_consent(
                session=s,
                registry=container.registry,
                subject_id=self.subject_id,
                controller="lmt",
                purpose="offers",
                action="grant",
                channel="staff",
                actor=Actor("staff", "x"),
                now=container.clock.now(),
            ).event
        assert event is not None
        self.event_id = event.id
        self.app = create_app(container)
        self.admin = {"Authorization": f"Bearer {token('admin')}", "X-Access-Reason": "ticket 4242"}
        self.operator = {"Authorization": f"Bearer {token('operator')}"}
        self.anon = client(self.app)
        self.anon_csrf = csrf_of(self.anon.get("/portal/signin").text)
        self.serial = iter(range(1, 1_000_000))

    def n(self) -> int:
        return next(self.serial)

    @cached_property
    def console(self) -> TestClient:  # a DPO, signed in
        c = client(self.app)
        console_login(c, *self.staff_member("dpo"))
        return c

    @cached_property
    def console_csrf(self) -> str:
        return console_csrf(self.console)

    @cached_property
    def counter(self) -> TestClient:  # an operator at the customer centre, signed in
        c = client(self.app)
        console_login(c, *self.staff_member("operator"))
        return c

    @cached_property
    def counter_csrf(self) -> str:
        return console_csrf(self.counter)

    @cached_property
    def portal(self) -> TestClient:  # the person, signed in
        c = client(self.app)
        portal_sign_in(c, PHONE, lambda: self.codes.last_code(PHONE))
        return c

    @cached_property
    def portal_csrf(self) -> str:
        return portal_csrf(self.portal)


def client(app: Any) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def world(
    container: Container,
    codes: FakeCodeSender,
    token: Callable[..., str],
    staff_member: Callable[..., tuple[str, str]],
) -> World:
    return World(container, codes, token, staff_member)


def post_json(c: TestClient, path: str, doc: Any, headers: dict[str, str] | None = None) -> Response:
    """JSON as a hostile client sends it: lone surrogates go as \\ud800 escapes."""
    body = json.dumps(doc).encode()
    return c.post(path, content=body, headers={**(headers or {}), "Content-Type": "application/json"})


def sms_json(w: World, **fields: Any) -> Response:
    doc = {"message_id": f"hostile-{w.n()}", "from": "+37129000402", "to": "29307777", "text": "JAUNUMI"}
    doc.update(fields)
    body = json.dumps(doc).encode()
    secret = w.container.settings.sms_webhook_secret
    return w.anon.post(
        WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": sign_json(secret, body)},
    )


def sms_twilio(w: World, **fields: str) -> Response:
    params = {"MessageSid": f"SM{w.n()}", "From": "+37129000403", "To": "+37129307777", "Body": "JAUNUMI"}
    params.update(fields)
    signature = twilio_signature(TWILIO_TOKEN, f"http://testserver{WEBHOOK}", list(params.items()))
    return w.anon.post(
        WEBHOOK,
        content=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def consent(**fields: Any) -> dict[str, Any]:
    return {
        "controller": "lmt",
        "identity": "msisdn:+37129000404",
        "purpose": "offers",
        "action": "grant",
        **fields,
    }


def staff(w: World, **fields: Any) -> dict[str, Any]:
    return {
        "email": f"new{w.n()}@staff.example",
        "name": "New Person",
        "role": "operator",
        "password": "long-enough-password",
        "controllers": ["lmt"],
        **fields,
    }


def console_form(w: World, **fields: Any) -> dict[str, Any]:
    return {"csrf": w.console_csrf, **fields}


Sender = Callable[[World, str], Response]


@dataclass(frozen=True)
class Case:
    name: str
    transport: str  # json | form | query | path | header: which payloads it can carry
    send: Sender


CASES = [
    # API: consents
    Case(
        "api consents controller",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(controller=p), w.operator),
    ),
    Case(
        "api consents identity",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(identity=p), w.operator),
    ),
    Case(
        "api consents identity customer",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(identity=f"customer:{p}"), w.operator),
    ),
    Case(
        "api consents identity email",
        "json",
        lambda w, p: post_json(
            w.anon, "/api/v1/consents", consent(identity=f"email:{p}@example.lv"), w.operator
        ),
    ),
    Case(
        "api consents identity msisdn",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(identity=f"msisdn:{p}"), w.operator),
    ),
    Case(
        "api consents purpose",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(purpose=p), w.operator),
    ),
    Case(
        "api consents action",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(action=p), w.operator),
    ),
    Case(
        "api consents channel",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(channel=p), w.operator),
    ),
    Case(
        "api consents occurred_at",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(occurred_at=p), w.operator),
    ),
    Case(
        "api consents idempotency_key",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(idempotency_key=p), w.operator),
    ),
    Case(
        "api consents Idempotency-Key header",
        "header",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(), {**w.operator, "Idempotency-Key": p}),
    ),
    Case(
        "api consents evidence key",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(evidence={p[:64]: "v"}), w.operator),
    ),
    Case(
        "api consents evidence value",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/consents", consent(evidence={"note": p[:500]}), w.operator),
    ),
    # API: reads by identity, in paths and queries
    Case(
        "api check identity",
        "query",
        lambda w, p: w.anon.get(
            "/api/v1/consents/check",
            params={"controller": "lmt", "identity": p, "purpose": "offers"},
            headers=w.operator,
        ),
    ),
    Case(
        "api check controller purpose at",
        "query",
        lambda w, p: w.anon.get(
            "/api/v1/consents/check",
            params={"controller": p, "identity": f"msisdn:{PHONE}", "purpose": p, "at": p},
            headers=w.operator,
        ),
    ),
    Case(
        "api subject consents identity",
        "path",
        lambda w, p: w.anon.get(f"/api/v1/subjects/{quote(p, safe='')}/consents", headers=w.admin),
    ),
    Case(
        "api subject consents customer",
        "path",
        lambda w, p: w.anon.get(
            f"/api/v1/subjects/{quote('customer:' + p, safe='')}/consents", headers=w.admin
        ),
    ),
    Case(
        "api X-Access-Reason header",
        "header",
        lambda w, p: w.anon.get(
            f"/api/v1/subjects/msisdn:{PHONE}/consents", headers={**w.admin, "X-Access-Reason": p}
        ),
    ),
    Case(
        "api receipt event id",
        "path",
        lambda w, p: w.anon.get(f"/api/v1/consents/{quote(p, safe='')}/receipt", headers=w.admin),
    ),
    Case(
        "api receipt lang",
        "query",
        lambda w, p: w.anon.get(
            f"/api/v1/consents/{w.event_id}/receipt", params={"lang": p}, headers=w.admin
        ),
    ),
    Case(
        "api audience purpose controller",
        "path",
        lambda w, p: w.anon.get(
            f"/api/v1/audiences/{quote(p, safe='')}", params={"controller": p, "format": p}, headers=w.admin
        ),
    ),
    Case(
        "api audit actor",
        "query",
        lambda w, p: w.anon.get("/api/v1/audit", params={"actor": p}, headers=w.admin),
    ),
    Case(
        "api audit subject",
        "query",
        lambda w, p: w.anon.get("/api/v1/audit", params={"subject": p}, headers=w.admin),
    ),
    Case(
        "api audit subject identity",
        "query",
        lambda w, p: w.anon.get("/api/v1/audit", params={"subject": f"email:{p}"}, headers=w.admin),
    ),
    Case(
        "api sms messages identity",
        "query",
        lambda w, p: w.anon.get("/api/v1/sms/messages", params={"identity": p}, headers=w.admin),
    ),
    # API: staff
    Case(
        "api staff email", "json", lambda w, p: post_json(w.anon, "/api/v1/staff", staff(w, email=p), w.admin)
    ),
    Case(
        "api staff name", "json", lambda w, p: post_json(w.anon, "/api/v1/staff", staff(w, name=p), w.admin)
    ),
    Case(
        "api staff role", "json", lambda w, p: post_json(w.anon, "/api/v1/staff", staff(w, role=p), w.admin)
    ),
    Case(
        "api staff password",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/staff", staff(w, password=p), w.admin),
    ),
    Case(
        "api staff controllers",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/staff", staff(w, controllers=[p]), w.admin),
    ),
    Case(
        "api staff disable email",
        "json",
        lambda w, p: post_json(w.anon, "/api/v1/staff/disable", {"email": p}, w.admin),
    ),
    # SMS webhook, both forms
    Case("sms json message_id", "json", lambda w, p: sms_json(w, message_id=p)),
    Case("sms json from", "json", lambda w, p: sms_json(w, **{"from": p})),
    Case("sms json to", "json", lambda w, p: sms_json(w, to=p)),
    Case("sms json text", "json", lambda w, p: sms_json(w, text=p[:1600])),
    Case("sms json language received_at", "json", lambda w, p: sms_json(w, language=p, received_at=p)),
    Case("sms twilio MessageSid", "form", lambda w, p: sms_twilio(w, MessageSid=p)),
    Case("sms twilio From", "form", lambda w, p: sms_twilio(w, From=p)),
    Case("sms twilio To", "form", lambda w, p: sms_twilio(w, To=p)),
    Case("sms twilio Body", "form", lambda w, p: sms_twilio(w, Body=p[:1600])),
    # console
    Case(
        "console login",
        "form",
        lambda w, p: w.anon.post("/console/login", data={"csrf": w.anon_csrf, "email": p, "password": p}),
    ),
    Case(
        "console find value",
        "query",
        lambda w, p: w.console.get(
            "/console/find", params={"kind": "email", "value": p, "reason": "ticket 4242"}
        ),
    ),
    Case(
        "console find kind",
        "query",
        lambda w, p: w.console.get(
            "/console/find", params={"kind": p, "value": "29000401", "reason": "ticket 4242"}
        ),
    ),
    Case(
        "console find reason",
        "query",
        lambda w, p: w.console.get("/console/find", params={"kind": "msisdn", "value": PHONE, "reason": p}),
    ),
    Case(
        "console subject id",
        "path",
        lambda w, p: w.console.get(
            f"/console/subjects/{quote(p, safe='')}", params={"reason": "ticket 4242"}
        ),
    ),
    Case(
        "console subject reason",
        "query",
        lambda w, p: w.console.get(f"/console/subjects/{w.subject_id}", params={"reason": p}),
    ),
    Case(
        "console record choice",
        "form",
        lambda w, p: w.counter.post(
            f"/console/subjects/{w.subject_id}/consents",
            data={"csrf": w.counter_csrf, "choice": p, "action": "grant"},
        ),
    ),
    Case(
        "console record action",
        "form",
        lambda w, p: w.counter.post(
            f"/console/subjects/{w.subject_id}/consents",
            data={"csrf": w.counter_csrf, "choice": "lmt/offers", "action": p},
        ),
    ),
    Case(
        "console record reason",
        "form",
        lambda w, p: w.counter.post(
            f"/console/subjects/{w.subject_id}/consents",
            data={"csrf": w.counter_csrf, "choice": "lmt/offers", "action": "refuse", "reason": p},
        ),
    ),
    Case(
        "console record subject id",
        "path",
        lambda w, p: w.counter.post(
            f"/console/subjects/{quote(p, safe='')}/consents",
            data={"csrf": w.counter_csrf, "choice": "lmt/offers", "action": "grant"},
        ),
    ),
    Case(
        "console receipt id",
        "path",
        lambda w, p: w.console.get(
            f"/console/receipts/{quote(p, safe='')}", params={"reason": "ticket 4242"}
        ),
    ),
    Case(
        "console staff name",
        "form",
        lambda w, p: w.console.post("/console/staff", data=console_form(w, **staff(w, name=p))),
    ),
    Case(
        "console staff email",
        "form",
        lambda w, p: w.console.post("/console/staff", data=console_form(w, **staff(w, email=p))),
    ),
    Case(
        "console staff role password",
        "form",
        lambda w, p: w.console.post("/console/staff", data=console_form(w, **staff(w, role=p, password=p))),
    ),
    Case(
        "console staff controllers",
        "form",
        lambda w, p: w.console.post("/console/staff", data=console_form(w, **staff(w, controllers=[p]))),
    ),
    Case(
        "console staff disable",
        "form",
        lambda w, p: w.console.post("/console/staff/disable", data=console_form(w, email=p)),
    ),
    Case(
        "console audit subject actor",
        "query",
        lambda w, p: w.console.get("/console/audit", params={"subject": f"msisdn:{p}", "actor": p[:64]}),
    ),
    Case(
        "console audit subject",
        "query",
        lambda w, p: w.console.get("/console/audit", params={"subject": p[:300]}),
    ),
    # portal
    Case(
        "portal signin",
        "form",
        lambda w, p: w.anon.post("/portal/signin", data={"csrf": w.anon_csrf, "identity": p[:300]}),
    ),
    Case(
        "portal verify",
        "form",
        lambda w, p: w.anon.post(
            "/portal/verify", data={"csrf": w.anon_csrf, "challenge": p[:64], "code": p[:20]}
        ),
    ),
    Case(
        "portal consents controller",
        "form",
        lambda w, p: w.portal.post(
            "/portal/consents", data={"csrf": w.portal_csrf, "controller": p[:64], "shown": "offers"}
        ),
    ),
    Case(
        "portal consents shown granted",
        "form",
        lambda w, p: w.portal.post(
            "/portal/consents", data={"csrf": w.portal_csrf, "controller": "lmt", "shown": p, "granted": p}
        ),
    ),
    Case(
        "portal contact",
        "form",
        lambda w, p: w.portal.post(
            "/portal/contact", data={"csrf": w.portal_csrf, "value": p[:300], "replace": "true"}
        ),
    ),
    Case(
        "portal contact verify",
        "form",
        lambda w, p: w.portal.post(
            "/portal/contact/verify", data={"csrf": w.portal_csrf, "challenge": p[:64], "code": p[:20]}
        ),
    ),
    Case(
        "portal request details",
        "form",
        lambda w, p: w.portal.post(
            "/portal/requests",
            data={"csrf": w.portal_csrf, "controller": "lmt", "kind": "access", "details": p[:4000]},
        ),
    ),
    Case(
        "portal request kind controller",
        "form",
        lambda w, p: w.portal.post(
            "/portal/requests", data={"csrf": w.portal_csrf, "controller": p[:64], "kind": p[:32]}
        ),
    ),
    Case("portal receipt id", "path", lambda w, p: w.portal.get(f"/portal/receipts/{quote(p, safe='')}")),
    Case("portal csrf", "form", lambda w, p: w.portal.post("/portal/signout", data={"csrf": p})),
]

# Bugs outside this engineer's files (see the xfail tests at the end): (case, payload, PostgreSQL only).
KNOWN_BUGS: list[tuple[str, Callable[[str], bool], bool, str]] = []  # all fixed so far


def known_bug(case: str, payload: str) -> bool:
    return any(
        case == name and hits(payload) and (bool(PG_URL) or not pg_only)
        for name, hits, pg_only, _ in KNOWN_BUGS
    )


def carries(transport: str, payload: str) -> bool:
    if transport == "json":
        return True
    if transport == "header":
        return bool(PRINTABLE.fullmatch(payload)) and len(payload) < 1000
    return SURROGATE not in payload  # forms, queries and paths are UTF-8


# --- what every answer must look like ---------------------------------------------------------------


def snapshot(container: Container) -> dict[str, int]:
    """Row counts of every table, and of access-log entries of changes that went through (a refused
    form may show its page again, and that read is logged), in one round trip."""
    access = Base.metadata.tables["access_log"]
    columns = [
        select(func.count()).select_from(t).scalar_subquery().label(t.name)
        for t in Base.metadata.sorted_tables
    ]
    changes = (
        select(func.count())
        .select_from(access)
        .where(access.c.outcome == "ok", access.c.action != "read")
        .scalar_subquery()
    )
    with container.engine.connect() as conn:
        row = conn.execute(select(*columns, changes.label("access_log_ok_changes"))).one()
    return {k: int(v) for k, v in row._mapping.items()}


def assert_unchanged(w: World, before: dict[str, int]) -> None:
    """Nothing written, except access-log entries of refused reads."""
    after = snapshot(w.container)
    assert {k: v for k, v in after.items() if k != "access_log"} == {
        k: v for k, v in before.items() if k != "access_log"
    }


def signed_in_snapshot(w: World) -> dict[str, int]:
    """Sign the console and portal clients in first, then count."""
    assert w.console_csrf and w.counter_csrf and w.portal_csrf
    return snapshot(w.container)


def message_of(r: Response) -> str:
    kind = r.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return str(r.json()["error"]["message"])
    if kind.startswith("text/html"):
        # an error paragraph, or the help text of the form that asks again (e.g. for a reason)
        found = re.search(r'<p [^>]*(?:role="alert"|class="help")[^>]*>(.*?)</p>', r.text, re.S)
        return found.group(1).strip() if found else ""
    return ""


def check_answer(w: World, label: str, before: dict[str, int], r: Response) -> None:
    where = f"{label}: {r.status_code} {r.text[:300]!r}"
    assert r.status_code < 500, where
    if r.status_code < 400:
        return
    assert message_of(r), f"no message: {where}"
    if (
        r.headers.get("content-type", "").startswith("application/json")
        and r.json()["error"]["code"] == "not_eligible"
    ):
        return  # a refused consent is itself recorded (R-CON-3)
    after = snapshot(w.container)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k] and k != "access_log"}
    assert changed == {}, f"refused, yet written: {changed}; {where}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_text_in_every_field_is_refused_clearly_or_kept_as_data(world: World, case: Case) -> None:
    tried = 0
    if case.name.startswith("console record"):  # sign in before counting rows
        assert world.counter_csrf
    elif case.name.startswith("console"):
        assert world.console_csrf
    elif case.name.startswith("portal"):
        assert world.portal_csrf
    for payload in PAYLOADS:
        if not carries(case.transport, payload) or known_bug(case.name, payload):
            continue
        before = snapshot(world.container)
        r = case.send(world, payload)
        check_answer(world, f"{case.name} <- {payload[:40]!r}", before, r)
        tried += 1
    assert tried >= 10
    with world.container.read_sessions.begin() as s:
        report = verify_ledger(session=s)
    assert report.ok, report.problems
    assert snapshot(world.container)["consent_events"] >= 1  # the tables are all still there


# --- sizes --------------------------------------------------------------------------------------------


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (sent chunked)."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


def test_oversized_bodies_are_refused_with_413_and_change_nothing(world: World) -> None:
    before = signed_in_snapshot(world)
    big = b"{" + b" " * MAX_BODY + b"}"
    json_headers = {**world.operator, "Content-Type": "application/json"}
    answers = {
        "announced": world.anon.post("/api/v1/consents", content=big, headers=json_headers),
        "chunked": world.anon.post("/api/v1/consents", content=chunks(MAX_BODY + 1), headers=json_headers),
        "staff": world.anon.post(
            "/api/v1/staff", content=big, headers={**world.admin, "Content-Type": "application/json"}
        ),
        "webhook chunked": world.anon.post(
            WEBHOOK, content=chunks(2 * MAX_BODY), headers={"Content-Type": "application/json"}
        ),
    }
    for name, r in answers.items():
        assert r.status_code == 413, name
        assert r.json()["error"]["code"] == "too_large" and "1048576 bytes" in r.json()["error"]["message"], (
            name
        )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for path, c in (
        ("/console/login", world.anon),
        ("/portal/signin", world.anon),
        ("/portal/requests", world.portal),
    ):
        for body in (b"csrf=x&details=" + b"a" * MAX_BODY, chunks(MAX_BODY + 10)):
            r = c.post(path, content=body, headers=form)
            assert r.status_code == 413 and r.headers["content-type"].startswith("text/html"), path
            assert "1048576 bytes" in message_of(r)
    assert_unchanged(world, before)


def test_the_sms_webhook_keeps_its_own_16_kib_limit(world: World) -> None:
    before = signed_in_snapshot(world)
    body = json.dumps(
        {"message_id": "big", "from": "+37129000402", "to": "29307777", "text": "J" * 17_000}
    ).encode()
    signature = sign_json(world.container.settings.sms_webhook_secret, body)
    for content in (body, iter([body[:9000], body[9000:]])):
        r = world.anon.post(
            WEBHOOK,
            content=content,
            headers={"Content-Type": "application/json", "X-Sargs-Signature": signature},
        )
        assert r.status_code == 413 and "16384 bytes" in r.json()["error"]["message"]
    assert_unchanged(world, before)


def test_a_body_just_under_the_limit_still_reaches_the_app(world: World) -> None:
    doc = consent()
    doc["padding"] = ""
    room = MAX_BODY - len(json.dumps(doc).encode())
    doc["padding"] = "p" * room
    body = json.dumps(doc).encode()
    assert len(body) == MAX_BODY
    r = world.anon.post(
        "/api/v1/consents", content=body, headers={**world.operator, "Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    r = world.anon.post(
        "/api/v1/consents",
        content=iter([body[:500_000], body[500_000:]]),
        headers={**world.operator, "Content-Type": "application/json"},
    )
    assert r.status_code == 200 or r.status_code == 201, r.text


def test_the_size_limit_stops_reading_an_endless_body_early(world: World) -> None:
    """The body is never buffered: reading stops at the first chunk past 1 MiB."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        if reads > 1000:
            raise AssertionError("kept reading")
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    headers += [(k.lower().encode(), v.encode()) for k, v in world.operator.items()]
    run_asgi(world.app, http_scope("POST", "/api/v1/consents", headers), receive, send)
    assert sent[0]["status"] == 413
    assert reads == MAX_BODY // 65536 + 1


# --- deep, malformed and mislabelled bodies ---------------------------------------------------------


def test_deeply_nested_json_is_a_clean_4xx(world: World) -> None:
    before = signed_in_snapshot(world)
    deep_arrays = "[" * 10_000 + "]" * 10_000
    deep_objects = '{"a":' * 10_000 + "1" + "}" * 10_000
    bodies = {
        "consents arrays": ("/api/v1/consents", deep_arrays, world.operator),
        "consents objects": ("/api/v1/consents", deep_objects, world.operator),
        "consents 100k": ("/api/v1/consents", "[" * 100_000 + "]" * 100_000, world.operator),
        "evidence": (
            "/api/v1/consents",
            json.dumps(consent())[:-1] + ', "evidence": {"k": ' + deep_objects + "}}",
            world.operator,
        ),
        "staff": ("/api/v1/staff", deep_objects, world.admin),
        "staff disable": ("/api/v1/staff/disable", deep_arrays, world.admin),
    }
    for name, (path, body, headers) in bodies.items():
        r = world.anon.post(
            path, content=body.encode(), headers={**headers, "Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500 and message_of(r), (name, r.status_code, r.text[:200])
    # The SMS webhook parses signed bodies itself (up to 16 KiB: 5,000 levels fit).
    doc = json.dumps({"message_id": "deep", "from": "+37129000402", "to": "29307777", "text": "x"})
    for extra in ("[" * 5_000 + "]" * 5_000, '{"a":' * 2_500 + "1" + "}" * 2_500):
        body = (doc[:-1] + ', "extra": ' + extra + "}").encode()
        signature = sign_json(world.container.settings.sms_webhook_secret, body)
        r = world.anon.post(
            WEBHOOK,
            content=body,
            headers={"Content-Type": "application/json", "X-Sargs-Signature": signature},
        )
        assert 400 <= r.status_code < 500 and message_of(r), r.text[:200]
    assert_unchanged(world, before)


def test_bodies_and_urls_that_are_not_utf8_are_refused(world: World) -> None:
    before = signed_in_snapshot(world)
    json_headers = {**world.operator, "Content-Type": "application/json"}
    bad_json = (
        b'{"controller": "lmt", "identity": "customer:\xff\xfe", "purpose": "offers", "action": "grant"}'
    )
    answers = [
        world.anon.post("/api/v1/consents", content=b"\xff\xfe{}", headers=json_headers),
        world.anon.post(
            "/api/v1/consents", content=bad_json.replace(b"\\xff\\xfe", b"\xff\xfe"), headers=json_headers
        ),
        world.anon.post(
            "/api/v1/consents", content='{"controller": "lmt"}'.encode("utf-16"), headers=json_headers
        ),
        world.anon.get("/api/v1/subjects/customer:%FF%FE/consents", headers=world.admin),
        world.anon.post(
            "/portal/signin",
            content=f"csrf={world.anon_csrf}&identity=%FF%FE".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        world.anon.post(
            "/portal/signin",
            content=f"csrf={world.anon_csrf}&identity=".encode() + b"\xff",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        world.console.get("/console/find?kind=email&value=%ED%A0%80@x.lv&reason=ticket+4242"),
    ]
    body = b'{"message_id": "m", "from": "+37129000402", "to": "29307777", "text": "\xff"}'
    signature = sign_json(world.container.settings.sms_webhook_secret, body)
    answers.append(
        world.anon.post(
            WEBHOOK,
            content=body,
            headers={"Content-Type": "application/json", "X-Sargs-Signature": signature},
        )
    )
    form = b"MessageSid=SM1&From=%2B37129000403&To=%2B37129307777&Body=%FF"
    answers.append(
        world.anon.post(
            WEBHOOK,
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
        )
    )
    for r in answers:
        assert 400 <= r.status_code < 500 and message_of(r), (r.request.url, r.status_code, r.text[:200])
    # A query's escapes that are not UTF-8 are read as U+FFFD: an e-mail nobody has, not an error.
    r = world.anon.get(
        "/api/v1/consents/check?controller=lmt&purpose=offers&identity=email:%C0%AF@x.lv",
        headers=world.operator,
    )
    assert r.status_code == 200 and r.json()["allowed"] is False
    assert_unchanged(world, before)


def test_wrong_content_types_are_refused(world: World) -> None:
    before = signed_in_snapshot(world)
    doc = json.dumps(consent()).encode()
    for kind in (
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ):
        headers = {**world.operator, **({"Content-Type": kind} if kind else {})}
        r = world.anon.post("/api/v1/consents", content=doc, headers=headers)
        assert r.status_code == 422 and message_of(r), (kind, r.text[:200])
    r = world.anon.post(WEBHOOK, content=b"JAUNUMI", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = world.anon.post("/console/login", json={"csrf": world.anon_csrf, "email": "a@b.lv", "password": "x"})
    assert r.status_code == 422 and message_of(r)
    assert_unchanged(world, before)


# --- NUL --------------------------------------------------------------------------------------------


def test_nul_is_refused_wherever_it_hides_before_the_app_runs(world: World) -> None:
    before = signed_in_snapshot(world)
    json_headers = {**world.operator, "Content-Type": "application/json"}
    answers = {
        "path": world.anon.get("/api/v1/consents/ab%00cd/receipt", headers=world.admin),
        "query": world.anon.get("/api/v1/audit?actor=a%00b", headers=world.admin),
        "json escape": world.anon.post(
            "/api/v1/consents",
            content=json.dumps(consent(idempotency_key="a\x00b")).encode(),
            headers=json_headers,
        ),
        "json escape in a key": world.anon.post(
            "/api/v1/consents",
            content=json.dumps(consent(evidence={"a\x00": 1})).encode(),
            headers=json_headers,
        ),
        "json raw": world.anon.post(
            "/api/v1/consents", content=b'{"controller": "lmt\x00"}', headers=json_headers
        ),
        "charset json": world.anon.post(
            "/api/v1/consents",
            content=json.dumps(consent(channel="\x00")).encode(),
            headers={**world.operator, "Content-Type": "application/json; charset=utf-8"},
        ),
        "form": world.anon.post(
            "/portal/signin",
            content=f"csrf={world.anon_csrf}&identity=a%00b".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        "multipart": world.anon.post(
            "/portal/signin", data={"csrf": world.anon_csrf}, files={"identity": (None, b"29000401\x00")}
        ),
        "console query": world.console.get("/console/find?kind=email&value=a%00b@x.lv&reason=ticket+4242"),
    }
    for name, r in answers.items():
        assert r.status_code == 422, (name, r.status_code, r.text[:200])
        assert "NUL" in message_of(r), name
    assert answers["path"].headers["content-type"].startswith("application/json")
    assert answers["form"].headers["content-type"].startswith("text/html")
    assert_unchanged(world, before)


def test_an_escaped_backslash_before_u0000_is_ordinary_text(world: World) -> None:
    r = world.anon.post(
        "/api/v1/consents",
        content=json.dumps(consent(evidence={"note": "C:\\u0000 and \\\\u0000"})).encode(),
        headers={**world.operator, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["event"]["evidence"]["note"] == "C:\\u0000 and \\\\u0000"


@pytest.mark.parametrize(
    ("text", "nul"),
    [
        ('"a\\u0000"', True),
        ('"a\\\\u0000"', False),
        ('"a\\\\\\u0000"', True),
        ('"\\u00000"', True),
        ('"u0000"', False),
        ('"\\U0000"', False),
        ('"\\u0001"', False),
        ('"ok"', False),
    ],
)
def test_the_json_nul_scanner_sees_escapes_split_at_any_chunk_boundary(text: str, nul: bool) -> None:
    data = ("{" + '"k": ' + text + "}").encode()
    for cut in range(len(data) + 1):
        for cut2 in range(cut, len(data) + 1):
            scanner = JsonNulScanner()
            found = any([scanner.feed(data[:cut]), scanner.feed(data[cut:cut2]), scanner.feed(data[cut2:])])
            assert found is nul, (text, cut, cut2)
    long_run = JsonNulScanner()
    pieces = [b'{"k": "', *([b"\\"] * 7), b"u0000", b'"}']  # seven backslashes, one at a time
    assert any([long_run.feed(p) for p in pieces])


# --- injection strings are data ---------------------------------------------------------------------


def test_injection_strings_are_stored_verbatim_as_data(world: World) -> None:
    sql, markup = "'; DROP TABLE consent_events; --", "<script>window.__xss=1</script>"
    r = post_json(world.anon, "/api/v1/staff", staff(world, name=sql), world.admin)
    assert r.status_code == 201 and r.json()["name"] == sql
    r = world.console.post(
        "/console/staff", data=console_form(world, **staff(world, name=markup)), follow_redirects=False
    )
    assert r.status_code == 303
    r = sms_json(world, text=f"{sql} {markup}")
    assert r.status_code == 201, r.text
    r = world.portal.post(
        "/portal/requests",
        data={"csrf": world.portal_csrf, "controller": "lmt", "kind": "access", "details": sql + markup},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = post_json(
        world.anon, "/api/v1/consents", consent(evidence={"note": sql, "html": markup}), world.operator
    )
    assert r.status_code == 201 and r.json()["event"]["evidence"] == {
        "note": sql,
        "html": markup,
        "ip": r.json()["event"]["evidence"]["ip"],
    }
    with world.container.sessions.begin() as s:
        names = set(s.scalars(select(StaffMember.name)))
        texts = set(s.scalars(select(SmsInbound.text)))
        details = set(s.scalars(select(DsrRequest.details)))
    assert {sql, markup} <= names and f"{sql} {markup}" in texts and sql + markup in details
    with world.container.read_sessions.begin() as s:
        assert verify_ledger(session=s).ok


# --- found by this file and fixed (regressions) ---------------------------------------------------------


def test_a_lone_surrogate_in_consent_evidence_is_a_4xx(world: World) -> None:
    before = signed_in_snapshot(world)
    r = post_json(world.anon, "/api/v1/consents", consent(evidence={"note": SURROGATE}), world.operator)
    assert r.status_code == 422 and snapshot(world.container) == before


def test_a_long_subject_filter_in_the_access_log_is_not_a_5xx(world: World) -> None:
    api = world.anon.get("/api/v1/audit", params={"subject": "s" * 33}, headers=world.admin)
    console = world.console.get("/console/audit", params={"subject": "s" * 33})
    assert api.status_code < 500 and console.status_code < 500


def test_the_console_refuses_a_staff_account_for_an_unknown_controller(world: World) -> None:
    before = signed_in_snapshot(world)
    for controller in ("no-such-company", "c" * 65):
        r = world.console.post(
            "/console/staff", data=console_form(world, **staff(world, controllers=[controller]))
        )
        assert r.status_code == 422 and message_of(r)
    assert_unchanged(world, before)
