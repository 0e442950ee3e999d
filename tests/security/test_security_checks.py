"""Security checks (issue 8, part 5), driven through the real HTTP endpoints:

- guessing a portal code is cut off (5 tries per code, 5 codes per address per hour), and once
  cut off even the right code no longer works;
- guessing a staff password locks the account (5 failures, 15 minutes);
- API tokens, one-time codes, webhook signatures and CSRF tokens are compared with
  `hmac.compare_digest` (observed while the requests run; a source scan backs it up);
- no secret ends up in any log record: API token, staff password, one-time code, SMS webhook
  secret, Twilio token, session cookies.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

import sargs
from sargs.bootstrap import create_app
from sargs.core.clock import FixedClock
from sargs.core.logging import configure_logging
from sargs.domains.portal.codes import MAX_ATTEMPTS, MAX_CODES_PER_HOUR
from sargs.domains.portal.model import OneTimeCode
from sargs.domains.sms.model import SmsOutbox
from sargs.domains.sms.signatures import sign_json, twilio_signature
from sargs.domains.staff.service import LOCKOUT, MAX_FAILED_LOGINS
from sargs.domains.staff.signin import enrol_by_email
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.entrypoints.container import Container
from sargs.entrypoints.web.reauth import staff_mfa_key
from sargs.entrypoints.web.security import PENDING_COOKIE, PORTAL_COOKIE, STAFF_COOKIE
from sargs.integrations.codes import ChannelCodeSender
from sargs.integrations.ratelimit import memory_rate_limits
from tests.conftest import FakeCodeSender
from tests.web_helpers import console_csrf, csrf_of

PHONE = "+37129000501"
OTHER = "+37129000502"
WEBHOOK = "/api/v1/sms/inbound"
CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')


@pytest.fixture
def person(container: Container) -> str:
    with container.sessions.begin() as s:
        return create_subject(
            session=s,
            identities=[Identity("msisdn", PHONE), Identity("email", "liga@example.lv")],
            now=container.clock.now(),
            groups={"lmt": "own"},
        )


@pytest.fixture
def web(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as c:
        yield c


def ask_code(c: TestClient, identity: str) -> Response:
    page = c.get("/portal/signin")
    return c.post("/portal/signin", data={"csrf": csrf_of(page.text), "identity": identity})


def challenge_of(r: Response) -> str:
    found = CHALLENGE.search(r.text)
    assert found, r.text[:300]
    return found.group(1)


def try_code(c: TestClient, challenge: str, code: str, action: str = "/portal/verify") -> Response:
    csrf = csrf_of(c.get("/portal/signin").text) if action == "/portal/verify" else portal_page_csrf(c)
    return c.post(action, data={"csrf": csrf, "challenge": challenge, "code": code}, follow_redirects=False)


def portal_page_csrf(c: TestClient) -> str:
    return csrf_of(c.get("/portal/contact").text)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def signed_in(c: TestClient) -> bool:
    return c.get("/portal/consents", follow_redirects=False).status_code == 200


# --- one-time codes -----------------------------------------------------------------------------------


def test_guessing_a_sign_in_code_is_cut_off_and_then_even_the_right_code_fails(
    web: TestClient, container: Container, codes: FakeCodeSender, person: str
) -> None:
    challenge = challenge_of(ask_code(web, "29000501"))
    right = codes.last_code(PHONE)
    for _ in range(MAX_ATTEMPTS):
        r = try_code(web, challenge, wrong(right))
        assert r.status_code == 401 and 'role="alert"' in r.text
    r = try_code(web, challenge, right)
    assert r.status_code == 401 and not signed_in(web)
    with container.read_sessions.begin() as s:
        row = s.scalar(select(OneTimeCode).where(OneTimeCode.id == challenge))
        assert row is not None and row.attempts == MAX_ATTEMPTS + 1 and row.used_at is None


def test_the_right_code_within_the_allowed_tries_signs_in_once(
    web: TestClient, codes: FakeCodeSender, person: str
) -> None:
    challenge = challenge_of(ask_code(web, PHONE))
    right = codes.last_code(PHONE)
    for _ in range(MAX_ATTEMPTS - 1):
        assert try_code(web, challenge, wrong(right)).status_code == 401
    r = try_code(web, challenge, right)
    assert r.status_code == 303 and signed_in(web)
    with TestClient(web.app) as replay:  # the same code again, by someone else
        assert try_code(replay, challenge, right).status_code == 401 and not signed_in(replay)


def test_a_code_works_only_with_its_own_challenge_and_only_for_ten_minutes(
    web: TestClient, clock: FixedClock, codes: FakeCodeSender, person: str
) -> None:
    first = challenge_of(ask_code(web, PHONE))
    first_code = codes.last_code(PHONE)
    second = challenge_of(ask_code(web, PHONE))
    assert try_code(web, second, first_code).status_code == 401  # not this challenge's code
    clock.advance(minutes=10, seconds=1)
    assert try_code(web, first, first_code).status_code == 401 and not signed_in(web)


def test_asking_for_codes_is_limited_per_address_per_hour_whether_or_not_it_is_known(
    web: TestClient, container: Container, clock: FixedClock, codes: FakeCodeSender, person: str
) -> None:
    forms = ["29000501", "+371 29000501", "0037129000501", "+37129000501", "msisdn:29000501"]
    assert len(forms) == MAX_CODES_PER_HOUR
    for form in forms:  # every way of writing the number counts against the same address
        assert ask_code(web, form).status_code == 200
    refused = ask_code(web, "29 000 501")
    assert refused.status_code == 429 and 'role="alert"' in refused.text
    container.rate_limits = (
        memory_rate_limits()
    )  # a fresh per-client count (tests/web/test_signin_rate_limits.py)
    unknown = [ask_code(web, OTHER).status_code for _ in range(MAX_CODES_PER_HOUR + 1)]
    assert unknown == [200] * MAX_CODES_PER_HOUR + [429]  # same answers for nobody: nothing revealed
    assert len(codes.sent) == MAX_CODES_PER_HOUR  # and nothing was sent to the unknown number
    clock.advance(hours=1, seconds=1)
    assert ask_code(web, PHONE).status_code == 200


def test_at_most_25_guesses_an_hour_reach_one_address(
    web: TestClient, codes: FakeCodeSender, person: str
) -> None:
    """5 codes an hour x 5 tries each: the chance of guessing a 6-digit code in an hour is 25 in
    a million, and every try is counted in the database."""
    guesses = accepted = 0
    while True:
        r = ask_code(web, PHONE)
        if r.status_code == 429:
            break
        challenge, right = challenge_of(r), codes.last_code(PHONE)
        for _ in range(MAX_ATTEMPTS + 3):
            guesses += 1
            accepted += try_code(web, challenge, wrong(right)).status_code != 401
    assert accepted == 0 and guesses == MAX_CODES_PER_HOUR * (MAX_ATTEMPTS + 3)
    assert not signed_in(web)


def test_guessing_the_code_for_a_new_contact_address_is_cut_off_too(
    web: TestClient, codes: FakeCodeSender, person: str
) -> None:
    challenge = challenge_of(ask_code(web, PHONE))
    assert try_code(web, challenge, codes.last_code(PHONE)).status_code == 303
    r = web.post("/portal/contact", data={"csrf": portal_page_csrf(web), "value": OTHER})
    contact = challenge_of(r)
    right = codes.last_code(OTHER)
    for _ in range(MAX_ATTEMPTS):
        assert try_code(web, contact, wrong(right), action="/portal/contact/verify").status_code == 401
    assert try_code(web, contact, right, action="/portal/contact/verify").status_code == 401
    assert OTHER not in web.get("/portal/contact").text


# --- staff passwords ----------------------------------------------------------------------------------


def console_sign_in(c: TestClient, email: str, password: str) -> Response:
    page = c.get("/console/login")
    return c.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )


def test_guessing_a_staff_password_locks_the_account(
    web: TestClient, clock: FixedClock, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("dpo")
    for n in range(MAX_FAILED_LOGINS):
        r = console_sign_in(web, email, f"guess-{n}-password")
        assert r.status_code == 401 and 'role="alert"' in r.text
    locked = console_sign_in(web, email, password)
    assert locked.status_code == 401 and STAFF_COOKIE not in locked.cookies
    unknown = console_sign_in(web, "nobody@staff.example", password)
    assert unknown.text.replace("nobody@staff.example", email) == locked.text  # locked or unknown: same page
    clock.advance(seconds=LOCKOUT.total_seconds() - 1)
    assert console_sign_in(web, email, password).status_code == 401
    clock.advance(seconds=2)
    assert console_sign_in(web, email, password).status_code == 303


def test_password_guesses_spread_over_time_still_lock(
    web: TestClient, clock: FixedClock, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("operator")
    for n in range(MAX_FAILED_LOGINS):
        assert console_sign_in(web, email, f"slow-guess-{n}").status_code == 401
        clock.advance(minutes=5)
    assert console_sign_in(web, email, password).status_code == 401


def test_a_successful_sign_in_resets_the_failure_count(
    web: TestClient, staff_member: Callable[..., tuple[str, str]]
) -> None:
    email, password = staff_member("operator")
    for n in range(MAX_FAILED_LOGINS - 1):
        assert console_sign_in(web, email, f"typo-{n}").status_code == 401
    assert console_sign_in(web, email, password).status_code == 303
    for n in range(MAX_FAILED_LOGINS - 1):
        assert console_sign_in(web, email, f"typo-again-{n}").status_code == 401
    assert console_sign_in(web, email, password).status_code == 303


# --- constant-time comparisons ------------------------------------------------------------------------


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every call of hmac.compare_digest while the test runs, with its arguments."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def saw(calls: list[tuple[Any, Any]], value: str | bytes) -> bool:
    wanted = as_bytes(value)
    return any(wanted in (as_bytes(a), as_bytes(b)) for a, b in calls)


def test_secrets_presented_by_callers_are_compared_with_compare_digest(
    web: TestClient,
    container: Container,
    token: Callable[..., str],
    codes: FakeCodeSender,
    person: str,
    compared: list[tuple[Any, Any]],
) -> None:
    # An API token with a real id and a wrong secret part: its digest meets the stored one in compare_digest.
    real = token("operator")
    prefix, token_id, _ = real.split("_", 2)  # sargs_<id>_<secret>
    forged = f"{prefix}_{token_id}_{'A' * 43}"
    r = web.get("/api/v1/audit", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    assert saw(compared, hashlib.sha256(b"A" * 43).hexdigest())

    # A one-time code.
    challenge = challenge_of(ask_code(web, PHONE))
    guess = wrong(codes.last_code(PHONE))
    compared.clear()
    assert try_code(web, challenge, guess).status_code == 401
    key = container.settings.secret_key.encode()
    assert saw(compared, hmac.new(key, f"code:{challenge}:{guess}".encode(), hashlib.sha256).hexdigest())

    # The CSRF token of a form.
    compared.clear()
    r = web.post("/portal/signin", data={"csrf": "f" * 40, "identity": PHONE})
    assert r.status_code == 403 and saw(compared, "f" * 40)

    # The SMS webhook's own signature and Twilio's.
    body = json.dumps({"message_id": "ct-1", "from": OTHER, "to": "29307777", "text": "JAUNUMI"}).encode()
    compared.clear()
    r = web.post(
        WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": "sha256=" + "0" * 64},
    )
    assert r.status_code == 403 and saw(compared, "sha256=" + "0" * 64)
    container.settings.sms_twilio_auth_token = "twilio-token-for-test"
    compared.clear()
    r = web.post(
        WEBHOOK,
        content=b"MessageSid=SM1&From=%2B37129000502&To=%2B37129307777&Body=JAUNUMI",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bm90IGl0"},
    )
    assert r.status_code == 403 and saw(compared, "bm90IGl0")


SECRET_WORDS = re.compile(r"secret|token|signature|code_hmac|csrf|digest|password|hash", re.IGNORECASE)


def is_column(node: ast.expr) -> bool:
    """`Model.column` or `TABLE.c.column`: one side of a SQL condition, not a Python comparison."""
    if not isinstance(node, ast.Attribute):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "c":
        return True
    return isinstance(owner, ast.Name) and owner.id[:1].isupper()


def test_no_secret_is_compared_with_equals_anywhere_in_the_source() -> None:
    """Supplement to the test above: `==` / `!=` between values named like secrets, in any module."""
    root = Path(sargs.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare) or not any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Constant) for side in sides):
                continue  # comparing with a literal (e.g. `scheme == "https"`) is no secret check
            if any(is_column(side) for side in sides):
                continue  # a SQL condition: the database looks the (hashed) value up by index
            names = [ast.unparse(side) for side in sides]
            if all(SECRET_WORDS.search(n) for n in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    allowed = {  # hashes of public data (the ledger chain, policy files): timing reveals nothing
        "domains/consent/chain.py",
        "domains/consent/checkpoints.py",
        "domains/consent/service.py",
        "domains/consent/verify.py",
        "domains/consent/anchors.py",
        "domains/audit/seal.py",
        "domains/policy/registry.py",
    }
    assert [o for o in offenders if o.split(":")[0] not in allowed] == []


# --- secrets never logged -----------------------------------------------------------------------------


@dataclass
class LogRun:
    secrets: dict[str, str]
    records: list[logging.LogRecord]
    json_lines: str


@pytest.fixture
def log_run(
    container: Container, token: Callable[..., str], person: str, caplog: pytest.LogCaptureFixture
) -> LogRun:
    """A run that touches every secret, with every logger at DEBUG (the app's JSON lines too)."""
    container.settings.sms_twilio_auth_token = "twilio-token-for-test-9f8e7d"
    container.settings.sms_webhook_secret = "webhook-secret-for-test-1a2b3c"
    container.code_sender = ChannelCodeSender(clock=container.clock, mailer=None, show_text=False)
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream)
    caplog.set_level(logging.DEBUG)
    for name in (
        "sqlalchemy.engine",
        "httpx",
        "uvicorn",
        "uvicorn.access",
        "multipart",
        "fastapi",
        "starlette",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    secrets: dict[str, str] = {}
    try:
        run_every_secret(container, token, secrets)
    finally:
        logging.getLogger("sargs").removeHandler(handler)
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # the SQL log was on
    return LogRun(secrets, list(caplog.records), stream.getvalue())


def record_text(record: logging.LogRecord) -> str:
    return "\n".join(
        [record.getMessage(), repr(record.args)]
        + [repr(v) for k, v in vars(record).items() if k not in ("msg", "args")]
    )


def test_no_secret_appears_in_any_log_record(log_run: LogRun) -> None:
    """API token, staff passwords (right and wrong), the TOTP secret, code and a recovery code, the
    SMS webhook secret, the Twilio token and the session cookies appear in no record of any logger; a one-time code in none outside the
    SQL parameter log (that one is the xfail test below)."""
    for name, value in log_run.secrets.items():
        assert value not in log_run.json_lines, name
        for record in log_run.records:
            if name == "one-time code" and record.name.startswith("sqlalchemy.engine"):
                continue
            assert value not in record_text(record), (
                f"{name} logged by {record.name}: {record.getMessage()[:200]}"
            )


@pytest.mark.xfail(
    strict=True,
    reason="parameters are hidden (hide_parameters=True), but sqlalchemy.engine at DEBUG also logs result "
    "rows, and an outbox row read back holds the code until it is sent; Sargs never enables that level",
)
def test_the_sql_log_does_not_show_one_time_codes(log_run: LogRun) -> None:
    code = log_run.secrets["one-time code"]
    assert not [
        r for r in log_run.records if r.name.startswith("sqlalchemy.engine") and code in record_text(r)
    ]


def run_every_secret(container: Container, token: Callable[..., str], secrets: dict[str, str]) -> None:
    """API calls with a token, a staff account made and signed in to (wrongly, then rightly), both
    webhook forms (signed and badly signed), a portal sign-in with a code from the SMS outbox."""
    app = create_app(container)
    admin = token("admin")
    secrets["api token"] = admin
    secrets["api token secret part"] = admin.split("_", 2)[2]  # sargs_<id>_<secret>; the secret may hold "_"
    with TestClient(app) as api:
        bearer = {"Authorization": f"Bearer {admin}", "X-Access-Reason": "ticket 7"}
        r = api.post(
            "/api/v1/consents",
            json={
                "controller": "lmt",
                "identity": f"msisdn:{PHONE}",
                "purpose": "offers",
                "action": "grant",
            },
            headers=bearer,
        )
        assert r.status_code == 201
        assert api.get(f"/api/v1/subjects/msisdn:{PHONE}/consents", headers=bearer).status_code == 200
        assert api.get("/api/v1/audit", headers={"Authorization": f"Bearer {admin}x"}).status_code == 401

        password = "staff-password-never-logged-77"
        secrets["staff password"] = password
        r = api.post(
            "/api/v1/staff",
            json={"email": "dpo@lmt.example", "name": "D", "role": "dpo", "password": password},
            headers=bearer,
        )
        assert r.status_code == 201

        body = json.dumps(
            {"message_id": "log-1", "from": OTHER, "to": "29307777", "text": "JAUNUMI"}
        ).encode()
        r = api.post(
            WEBHOOK,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Sargs-Signature": sign_json(container.settings.sms_webhook_secret, body),
            },
        )
        assert r.status_code == 201
        r = api.post(
            WEBHOOK,
            content=body,
            headers={"Content-Type": "application/json", "X-Sargs-Signature": "sha256=bad"},
        )
        assert r.status_code == 403
        params = [
            ("MessageSid", "SMlog2"),
            ("From", OTHER),
            ("To", "+37129307777"),
            ("Body", "JAUNUMI STOP"),
        ]
        signature = twilio_signature(
            container.settings.sms_twilio_auth_token, f"http://testserver{WEBHOOK}", params
        )
        r = api.post(
            WEBHOOK,
            content=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        assert r.status_code == 200, r.text
    secrets["webhook secret"] = container.settings.sms_webhook_secret
    secrets["twilio token"] = container.settings.sms_twilio_auth_token

    with TestClient(app) as staff:
        assert console_sign_in(staff, "dpo@lmt.example", "wrong-password-also-secret").status_code == 401
        secrets["wrong password"] = "wrong-password-also-secret"
        with container.sessions.begin() as s:
            enrolment, confirmed = enrol_by_email(
                session=s, email="dpo@lmt.example", key=staff_mfa_key(container), now=container.clock.now()
            )
        secrets["totp secret"] = enrolment.secret
        secrets["recovery code"] = confirmed.recovery_codes[0]
        r = console_sign_in(staff, "dpo@lmt.example", password)
        assert r.status_code == 303 and r.headers["location"] == "/console/login/code"
        secrets["pending session cookie"] = staff.cookies[PENDING_COOKIE]
        code = pyotp.TOTP(enrolment.secret).at(container.clock.now())
        secrets["totp code"] = code
        page = staff.get("/console/login/code")
        r = staff.post(
            "/console/login/code", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/console/", r.text
        secrets["console session cookie"] = staff.cookies[STAFF_COOKIE]
        r = staff.get("/console/find", params={"kind": "msisdn", "value": PHONE, "reason": "ticket 7"})
        assert r.status_code == 200
        csrf = console_csrf(staff)
        assert staff.post("/console/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303

    with TestClient(app) as portal:
        challenge = challenge_of(ask_code(portal, PHONE))
        with container.read_sessions.begin() as s:
            text = s.scalars(select(SmsOutbox.text).where(SmsOutbox.kind == "code")).all()[-1]
        code = re.search(r"\d{6}", text).group(0)  # type: ignore[union-attr]
        secrets["one-time code"] = code
        assert try_code(portal, challenge, wrong(code)).status_code == 401
        assert try_code(portal, challenge, code).status_code == 303
        secrets["portal session cookie"] = portal.cookies[PORTAL_COOKIE]
        assert portal.get("/portal/consents").status_code == 200
