"""API fuzzing from the OpenAPI document (issue 8, hostile input): schemathesis generates valid and
invalid requests for every operation and drives them through the ASGI app in-process.

Every answer must be documented: no 5xx, a documented status code and content type, and a body
that matches the documented schema (errors included: `{"error": {code, message, field?}}`).

Pure random strings rarely name a real controller, purpose or person, so the generated values are
"steered": hypothesis may swap a field for a known-good value (a real controller and purpose, a
valid identity, a configured SMS number) or a hostile one (SQL, markup, control characters, RTL,
NUL), which takes the fuzz past input validation into the services and the database.

`POST /sms/inbound` is fuzzed twice: unsigned (every request must be refused with a documented
4xx, never a 5xx) and signed with the webhook secret or the Twilio token (the body reaches the
parser and the ledger; answers must conform to the schema).

Bounded for CI and derandomized, so every run tries the same requests: 50 fuzzed examples per
operation on top of schemathesis' examples and coverage phases (about 40 s per database).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sargs.bootstrap import build, create_app, example_policy_paths
from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.policy.loader import load_policy
from sargs.domains.policy.schema import CONSENT_CHANNELS, Policy
from sargs.domains.sms.signatures import sign_json, twilio_signature
from sargs.entrypoints.container import Container

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
TWILIO_TOKEN = "fuzz-twilio-token"
INBOUND = "/api/v1/sms/inbound"
REASON = "fuzzing, issue 8"

POLICIES = [load_policy(p) for p in example_policy_paths()]


def _load_schema() -> schemathesis.BaseSchema:
    """The OpenAPI document of the real app (which needs no database to describe itself).

    Loaded once at import, and each test sends its cases to its own app on its own database
    (`case.call(app=...)`): schemathesis' `from_fixture` does not run under pytest 9.2."""
    settings_ = Settings(database_url="sqlite://", demo=True)
    c = build(settings_, policies=POLICIES, publish_policies=False, require_schema=False)
    try:
        return schemathesis.openapi.from_asgi("/openapi.json", create_app(c))
    finally:
        c.close()


schema = _load_schema()

# --- steering: known-good and hostile values hypothesis may put in place of generated ones -----

HOSTILE = [
    "' OR '1'='1' --",
    "1; DROP TABLE consent_events; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}",
    "%s%n%x",
    "../../../etc/passwd",
    "\u202etxt.exe",
    "a\x00b",
    "\r\nX-Injected: 1",
    "😀" * 40,
    "ā" * 400,
    "s" * 33,  # longer than a subject id
    "lone \ud800 surrogate",  # valid JSON (an escape), not encodable as UTF-8
]
CONTROLLERS = [c.id for p in POLICIES for c in p.controllers]
PAIRS = [(c.id, pur.id) for p in POLICIES for c in p.controllers for pur in p.purposes_of(c.id)]
PURPOSES = sorted({purpose for _, purpose in PAIRS})
PHONES = ["29123456", "+37129123457", "+371 2912 3458", "0037129123459", "+447700900123"]
IDENTITIES = [f"msisdn:{PHONES[1]}", PHONES[0], "email:anna@example.lv", "customer:C-1001", "msisdn:+1"]
SMS_NUMBERS = [n.number for p in POLICIES for n in p.sms]
KEYWORDS = [pur.sms_keyword for p in POLICIES for pur in p.purposes if pur.sms_keyword]
SMS_TEXTS = [*KEYWORDS, *(f"{k} stop" for k in KEYWORDS), "STOP", "START", "HELP", "Sadarbība!", "METADTI"]


def _text(*good: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*good, *HOSTILE])


def _pair() -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(PAIRS).map(lambda pair: {"controller": pair[0], "purpose": pair[1]})


STEER: dict[str, st.SearchStrategy[Any]] = {
    "controller": st.sampled_from(CONTROLLERS),
    "purpose": st.sampled_from(PURPOSES),
    "identity": _text(*IDENTITIES),
    "subject": _text(*IDENTITIES),
    "channel": st.sampled_from([*CONSENT_CHANNELS, "sms", "email"]),
    "action": st.sampled_from(["grant", "withdraw", "refuse"]),
    "role": st.sampled_from(["operator", "auditor", "marketing", "dpo", "admin"]),
    "controllers": st.lists(st.sampled_from(CONTROLLERS), max_size=2),
    "email": _text("new.person@example.lv"),
    "name": _text("Anna Bērziņa"),
    "password": st.just("a long enough password"),
    "evidence": st.dictionaries(_text("note"), _text("x") | st.integers() | st.none(), max_size=3),
    "to": st.sampled_from(SMS_NUMBERS),
    "from": _text(*PHONES),
    "text": _text(*SMS_TEXTS),
    "From": _text(*PHONES),
    "To": st.sampled_from(SMS_NUMBERS),
    "Body": _text(*SMS_TEXTS),
}


def _utf8(value: Any) -> bool:
    """`value` is not a string with a lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


# A URL or a header cannot carry a lone surrogate (the client cannot even encode one); a JSON body can.
URL_STEER = {key: strategy.filter(_utf8) for key, strategy in STEER.items()}


def _steered(
    generated: Any, steer: dict[str, st.SearchStrategy[Any]] = STEER, declared: Iterable[str] = ()
) -> st.SearchStrategy[Any]:
    """`generated` as it is, with every field hypothesis knows a steering value for replaced, or
    with some of them replaced. `declared` parameters are steered even when left out."""
    if not isinstance(generated, dict):
        return st.just(generated)
    known = {key: steer[key] for key in {*generated, *declared} if key in steer}
    if not known:
        return st.just(generated)
    pair = _pair() if {"controller", "purpose"} <= generated.keys() else st.just({})
    every = st.tuples(st.fixed_dictionaries(known), pair)
    some = st.tuples(st.fixed_dictionaries({}, optional=known), pair)
    return st.one_of(every, some, st.just(generated)).map(
        lambda drawn: drawn if drawn is generated else {**generated, **drawn[0], **drawn[1]}
    )


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _steered(body)


@schema.hook
def flatmap_query(context: schemathesis.HookContext, query: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _steered(query, URL_STEER, [p.name for p in context.operation.query])


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[Any]:
    return _steered(path_parameters, URL_STEER, [p.name for p in context.operation.path_parameters])


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def container(db_url: str, example_policies: list[Policy], clock: FixedClock) -> Iterator[Container]:
    """The conftest container, with Twilio callbacks enabled so form bodies can be signed too."""
    c = build(
        Settings(database_url=db_url, demo=True, sms_twilio_auth_token=TWILIO_TOKEN),
        clock=clock,
        policies=example_policies,
    )
    yield c
    c.close()


@pytest.fixture
def app(container: Container) -> FastAPI:
    return create_app(container)


@pytest.fixture
def admin(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    """An admin's bearer token, and a stated reason unless the generated request has its own."""
    return {**auth("admin"), "X-Access-Reason": REASON}


def _headers(case: schemathesis.Case, admin: dict[str, str]) -> dict[str, str]:
    own = {name.lower() for name in case.headers or {}}
    return {name: value for name, value in admin.items() if name.lower() not in own}


# --- tests ------------------------------------------------------------------------------------


@schema.exclude(path=INBOUND).parametrize()
@FUZZ
def test_api_answers_every_generated_request_as_documented(
    case: schemathesis.Case, app: FastAPI, admin: dict[str, str]
) -> None:
    case.call_and_validate(headers=_headers(case, admin), checks=CHECKS, app=app)


@schema.include(path=INBOUND).parametrize()
@FUZZ
def test_sms_webhook_refuses_unsigned_requests_without_a_server_error(
    case: schemathesis.Case, app: FastAPI
) -> None:
    response = case.call(app=app)
    case.validate_response(response, checks=CHECKS)
    assert response.status_code not in (200, 201), response.text


def _wire(body: Any) -> bytes:
    """A generated body as bytes (generated binary values become text)."""
    if isinstance(body, bytes):
        return body
    return json.dumps(
        body, default=lambda o: o.decode("utf-8", "replace") if isinstance(o, bytes) else str(o)
    ).encode()


def _signed(case: schemathesis.Case, url: str, json_secret: str) -> tuple[bytes, dict[str, str]] | None:
    """The body as sent and the signature header it needs; None for media types nobody signs."""
    media = (case.media_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        raw = _wire(case.body)
        return raw, {"Content-Type": media, "X-Sargs-Signature": sign_json(json_secret, raw)}
    if media == "application/x-www-form-urlencoded":
        # a lone surrogate becomes bytes that are not UTF-8 (%ED%A0%80): a badly encoded form
        form = (
            urlencode(case.body, doseq=True, errors="surrogatepass") if isinstance(case.body, dict) else None
        )
        raw = form.encode() if form is not None else _wire(case.body)
        params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return raw, {"Content-Type": media, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params)}
    return None


@schema.include(path=INBOUND).parametrize()
@FUZZ
def test_sms_webhook_answers_signed_requests_as_documented(
    case: schemathesis.Case, app: FastAPI, container: Container
) -> None:
    url = f"http://testserver{INBOUND}"
    signed = _signed(case, url, container.settings.sms_webhook_secret)
    if signed is None:  # other media types: sent as generated
        case.call_and_validate(checks=CHECKS, app=app)
        return
    raw, headers = signed
    with TestClient(app) as client:
        response = client.request(case.method, url, content=raw, headers=headers)
    case.validate_response(response, checks=CHECKS)
