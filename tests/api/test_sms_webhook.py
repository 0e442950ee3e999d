"""The SMS keyword channel end to end through the webhook (R-SMS-1..3): every keyword of the
telecom seed and its STOP form, refusals, duplicates, signatures, garbage and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sargs.core.clock import FixedClock
from sargs.core.config import Settings
from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.model import ConsentEvent, ConsentRejection
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.sms.segments import analyse
from sargs.domains.sms.signatures import sign_json, twilio_signature
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject, find_subject_id
from sargs.entrypoints.container import Container

SECRET = Settings().sms_webhook_secret  # the demo default, which the test container uses
OWN = "+37129111001"  # an LMT client (client group "own")
STRANGER = "+37126222002"  # not known: another operator's client
KEYWORDS = {
    "JAUNUMI": "offers",
    "METADATI": "metadata",
    "AUTO": "profiling",
    "VIETA": "location",
    "SADARBIBA": "loyalty",
}
counter = iter(range(1, 1_000_000))


def post_sms(
    client: TestClient, sender: str, text: str, *, message_id: str | None = None, **extra: Any
) -> Any:
    doc = {
        "message_id": message_id or f"m-{next(counter)}",
        "from": sender,
        "to": "29307777",
        "text": text,
        **extra,
    }
    body = json.dumps(doc).encode()
    return client.post(
        "/api/v1/sms/inbound",
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SECRET, body)},
    )


def counts(container: Container) -> tuple[int, int, int, int]:
    with container.sessions.begin() as s:
        return (
            s.scalar(select(func.count()).select_from(SmsInbound)) or 0,
            s.scalar(select(func.count()).select_from(SmsOutbox)) or 0,
            s.scalar(select(func.count()).select_from(ConsentEvent)) or 0,
            s.scalar(select(func.count()).select_from(ConsentRejection)) or 0,
        )


def consent(container: Container, phone: str, purpose: str) -> str:
    with container.sessions.begin() as s:
        subject_id = find_subject_id(session=s, identity=Identity("msisdn", phone))
        assert subject_id is not None
        return check_consent(session=s, subject_id=subject_id, controller="lmt", purpose=purpose).status


@pytest.fixture
def own_client(container: Container) -> str:
    with container.sessions.begin() as s:
        create_subject(
            session=s, identities=[Identity("msisdn", OWN)], now=container.clock.now(), groups={"lmt": "own"}
        )
    return OWN


def test_the_policy_declares_the_seeds_keywords(container: Container) -> None:
    route = container.sms.route("29307777")
    assert {k: p.id for k, p in route.purposes.items()} == KEYWORDS
    assert container.sms.route("+371 2930 7777") is route


@pytest.mark.parametrize("keyword", list(KEYWORDS))
def test_every_keyword_grants_and_its_stop_form_withdraws(
    keyword: str, client: TestClient, container: Container, own_client: str
) -> None:
    purpose = KEYWORDS[keyword]
    r = post_sms(client, own_client, keyword.lower())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["command"], body["keyword"], body["outcome"]) == ("grant", keyword, "granted")
    assert body["reply"]["text"] == (
        f"LMT: paldies, piekrisana {keyword} sanemta. Lai atsauktu, suti {keyword} STOP uz 29307777"
    )
    assert consent(container, own_client, purpose) == "granted"
    with container.sessions.begin() as s:
        event = s.scalars(select(ConsentEvent).where(ConsentEvent.id == body["event_ids"][0])).one()
        assert (event.channel, event.action, event.actor_type) == ("sms", "grant", "subject")
        assert event.evidence["provider_message_id"].startswith("m-")

    r = post_sms(client, own_client, f"  {keyword.capitalize()}  stop! ")
    assert r.status_code == 201, r.text
    assert (r.json()["command"], r.json()["outcome"]) == ("withdraw", "withdrawn")
    assert r.json()["reply"]["text"].startswith(f"LMT: piekrisana {keyword} atsaukta.")
    assert consent(container, own_client, purpose) == "withdrawn"
    assert counts(container)[:3] == (2, 2, 2)


def test_every_reply_fits_one_segment(client: TestClient, own_client: str) -> None:
    for keyword in KEYWORDS:
        for text in (keyword, f"{keyword} STOP", "kas tas?", "STOP", "START"):
            for language in ("lv", "en"):
                r = post_sms(client, own_client, text, language=language)
                assert r.status_code == 201, r.text
                info = analyse(r.json()["reply"]["text"])
                assert info.segments == 1, (text, language, r.json()["reply"]["text"], info)


def test_a_stranger_may_give_only_what_other_operators_clients_may(
    client: TestClient, container: Container
) -> None:
    r = post_sms(client, STRANGER, "METADATI")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["outcome"], body["event_ids"]) == ("refused", [])
    assert "LMT clients" in body["detail"]
    assert body["reply"]["text"] == (
        "LMT: piekrisanu METADATI var dot tikai: LMT klienti. Piekrisana nav registreta."
    )
    inbound, outbox, events, rejections = counts(container)
    assert (inbound, outbox, events, rejections) == (1, 1, 0, 1)
    # JAUNUMI is open to other operators' clients: the new subject may give it.
    r = post_sms(client, STRANGER, "JAUNUMI")
    assert r.json()["outcome"] == "granted"
    assert consent(container, STRANGER, "offers") == "granted"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Sveiki!",
        "JAUNUMI LUDZU",
        "DROP TABLE subjects;--",
        "<script>alert(1)</script>",
        "🙂",
        "AUTOS STOP X",
    ],
)
def test_garbage_gets_help_and_changes_no_consent(
    text: str, client: TestClient, container: Container, own_client: str
) -> None:
    r = post_sms(client, own_client, text)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["outcome"], body["event_ids"]) == ("help", [])
    assert body["reply"]["text"].startswith("LMT: suti JAUNUMI/METADATI/AUTO/VIETA/SADARBIBA uz 29307777")
    assert counts(container) == (1, 1, 0, 0)


def test_typos_and_diacritics_are_tolerated(
    client: TestClient, container: Container, own_client: str
) -> None:
    assert post_sms(client, own_client, "Sadarbība").json()["keyword"] == "SADARBIBA"
    assert post_sms(client, own_client, "JAUNUMISTOP").json()["command"] == "withdraw"
    assert post_sms(client, own_client, "METADTI").json()["outcome"] == "granted"


def test_bare_stop_withdraws_every_sms_consent_in_force(
    client: TestClient, container: Container, own_client: str
) -> None:
    for keyword in ("JAUNUMI", "VIETA"):
        assert post_sms(client, own_client, keyword).json()["outcome"] == "granted"
    r = post_sms(client, own_client, "stop")
    body = r.json()
    assert (body["command"], body["outcome"], body["detail"]) == (
        "stop_all",
        "withdrawn",
        "withdrew JAUNUMI, VIETA",
    )
    assert len(body["event_ids"]) == 2
    assert (
        consent(container, own_client, "offers") == consent(container, own_client, "location") == "withdrawn"
    )
    assert body["reply"]["text"].startswith("LMT: visas SMS piekrisanas atsauktas.")


def test_start_grants_nothing_and_lists_the_keywords(client: TestClient, container: Container) -> None:
    body = post_sms(client, STRANGER, "START", language="en").json()
    assert (body["command"], body["outcome"], body["event_ids"]) == ("start", "help", [])
    assert body["reply"]["text"] == (
        "LMT: consent is given per purpose: text JAUNUMI/METADATI/AUTO/VIETA/SADARBIBA to 29307777"
    )


def test_a_retried_delivery_changes_nothing_and_gets_no_second_reply(
    client: TestClient, container: Container, own_client: str
) -> None:
    first = post_sms(client, own_client, "AUTO", message_id="provider-42")
    again = post_sms(client, own_client, "AUTO", message_id="provider-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["inbound_id"] == first.json()["inbound_id"]
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert again.json()["reply"] == first.json()["reply"]
    assert counts(container) == (1, 1, 1, 0)


def test_bad_signatures_are_refused_and_change_nothing(client: TestClient, container: Container) -> None:
    body = json.dumps({"message_id": "x1", "from": STRANGER, "to": "29307777", "text": "JAUNUMI"}).encode()
    for signature in (
        None,
        "sha256=" + "0" * 64,
        sign_json("another secret", body),
        sign_json(SECRET, body + b" "),
    ):
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Sargs-Signature"] = signature
        r = client.post("/api/v1/sms/inbound", content=body, headers=headers)
        assert r.status_code == 403, r.text
        assert "X-Sargs-Signature" in r.json()["error"]["message"]
    assert counts(container) == (0, 0, 0, 0)
    with container.sessions.begin() as s:
        assert find_subject_id(session=s, identity=Identity("msisdn", STRANGER)) is None


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"message_id": "b1", "from": "not a phone", "to": "29307777", "text": "JAUNUMI"}, "from"),
        ({"message_id": "b2", "from": STRANGER, "to": "29000000", "text": "JAUNUMI"}, "to"),
        ({"message_id": "b3", "to": "29307777", "text": "JAUNUMI"}, "from"),
        ({"message_id": "", "from": STRANGER, "to": "29307777", "text": "JAUNUMI"}, "message_id"),
        ({"message_id": "b5", "from": STRANGER, "to": "29307777", "text": "x" * 1601}, "text"),
        ({"message_id": "b6", "from": STRANGER, "to": "29307777", "text": "J", "language": "de"}, "language"),
        (
            {"message_id": "b7", "from": STRANGER, "to": "29307777", "text": "J", "received_at": "soon"},
            "received_at",
        ),
    ],
)
def test_bad_input_is_a_clear_422_and_nothing_is_written(
    doc: dict[str, str], field: str, client: TestClient, container: Container
) -> None:
    body = json.dumps(doc).encode()
    r = client.post(
        "/api/v1/sms/inbound",
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SECRET, body)},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field, r.text
    assert r.json()["error"]["message"]
    assert counts(container) == (0, 0, 0, 0)


def test_malformed_oversized_and_unknown_bodies(client: TestClient, container: Container) -> None:
    body = b'{"message_id": "x", '
    r = client.post(
        "/api/v1/sms/inbound",
        content=body,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SECRET, body)},
    )
    assert r.status_code == 422
    big = b"x" * 20_000
    r = client.post("/api/v1/sms/inbound", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    r = client.post("/api/v1/sms/inbound", content=b"JAUNUMI", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]
    assert counts(container) == (0, 0, 0, 0)


# --- Twilio's form-encoded callback -------------------------------------------------------------

TWILIO_TOKEN = "twilio-test-auth-token"


@pytest.fixture
def twilio(container: Container) -> Callable[..., Any]:
    container.settings = container.settings.model_copy(update={"sms_twilio_auth_token": TWILIO_TOKEN})

    def post(client: TestClient, params: dict[str, str], *, token: str = TWILIO_TOKEN) -> Any:
        url = "http://testserver/api/v1/sms/inbound"
        signature = twilio_signature(token, url, list(params.items()))
        return client.post(
            "/api/v1/sms/inbound",
            data=params,
            headers={"X-Twilio-Signature": signature},
        )

    return post


def twilio_params(sid: str, body: str, sender: str = STRANGER) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+37129307777",
        "Body": body,
        "NumMedia": "0",
    }


def test_twilio_callback_is_verified_and_answered_with_twiml(
    client: TestClient, container: Container, twilio: Callable[..., Any]
) -> None:
    r = twilio(client, twilio_params("SM" + "1" * 32, "Jaunumi"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert consent(container, STRANGER, "offers") == "granted"
    # Twilio retries: same MessageSid, nothing changes.
    assert twilio(client, twilio_params("SM" + "1" * 32, "Jaunumi")).status_code == 200
    assert counts(container) == (1, 1, 1, 0)


def test_twilio_callback_with_a_bad_signature_is_403(
    client: TestClient, container: Container, twilio: Callable[..., Any]
) -> None:
    r = twilio(client, twilio_params("SM" + "2" * 32, "Jaunumi"), token="wrong-token")
    assert r.status_code == 403
    r = client.post("/api/v1/sms/inbound", data=twilio_params("SM" + "3" * 32, "Jaunumi"))
    assert r.status_code == 403
    assert counts(container) == (0, 0, 0, 0)


def test_twilio_callbacks_are_refused_until_a_token_is_configured(
    client: TestClient, container: Container
) -> None:
    r = client.post("/api/v1/sms/inbound", data=twilio_params("SM" + "4" * 32, "Jaunumi"))
    assert r.status_code == 403
    assert "SARGS_SMS_TWILIO_AUTH_TOKEN" in r.json()["error"]["message"]
    assert counts(container) == (0, 0, 0, 0)


def test_twilio_signature_matches_twilios_published_vectors() -> None:
    # The vectors of Twilio's own request-validator tests (auth token "12345").
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_signature("12345", url, list(reversed(params))) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert twilio_signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert twilio_signature("12345", url + "&extra=1", params) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


# --- the operator's view ---------------------------------------------------------------------------


def test_operator_sees_a_persons_messages_and_replies_and_the_read_is_audited(
    client: TestClient,
    container: Container,
    own_client: str,
    auth: Callable[..., dict[str, str]],
    clock: FixedClock,
) -> None:
    post_sms(client, own_client, "VIETA")
    clock.advance(minutes=1)
    post_sms(client, own_client, "hmm")
    operator = auth("operator", ["lmt"])
    r = client.get("/api/v1/sms/messages", params={"identity": f"msisdn:{own_client}"}, headers=operator)
    assert r.status_code == 200, r.text
    messages = r.json()["messages"]
    assert [(m["text"], m["outcome"]) for m in messages] == [("hmm", "help"), ("VIETA", "granted")]
    assert messages[1]["reply"]["status"] == "queued"
    assert messages[1]["reply"]["text"].startswith("LMT: paldies")
    audit = client.get("/api/v1/audit", headers=auth("dpo")).json()["items"]
    assert any(e["route"] == "GET /api/v1/sms/messages" and e["outcome"] == "ok" for e in audit)
    # Another controller's staff do not learn that the person exists.
    other = auth("operator", ["lmt-retail"])
    r = client.get("/api/v1/sms/messages", params={"identity": f"msisdn:{own_client}"}, headers=other)
    assert r.status_code == 404
    # DPO must state a reason.
    r = client.get("/api/v1/sms/messages", params={"identity": f"msisdn:{own_client}"}, headers=auth("dpo"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "reason_required"


def test_a_reply_in_russian_is_ucs2_and_its_segments_are_counted(
    client: TestClient, container: Container, own_client: str
) -> None:
    body = post_sms(client, own_client, "JAUNUMI", language="ru").json()
    assert body["outcome"] == "granted"
    text = body["reply"]["text"]
    assert text.startswith("LMT: спасибо, согласие JAUNUMI получено.")
    info = analyse(text)
    assert info.encoding == "UCS-2" and info.segments == -(-len(text) // info.per_segment)
    with container.sessions.begin() as s:
        row = s.scalars(select(SmsOutbox).where(SmsOutbox.id == body["reply"]["id"])).one()
        assert (row.text, row.segments) == (text, info.segments)


def test_messages_arriving_together_share_a_transaction_and_each_is_handled_as_alone(
    container: Container, own_client: str
) -> None:
    """Inbound messages of one group commit (core.group_commit): a provider's retry of a message
    in the same group is a duplicate, one person's two keywords are both applied in order, and
    every message has its one reply."""
    import asyncio

    import httpx

    from sargs.bootstrap import create_app
    from tests.helpers import run_apart

    app = create_app(container)
    sizes: list[int] = []
    inbound = app.state.sms_inbound
    observe = inbound.on_group
    inbound.on_group = lambda n: (sizes.append(n), observe(n))
    docs = [
        {"message_id": "g-1", "from": own_client, "to": "29307777", "text": "JAUNUMI"},
        {"message_id": "g-1", "from": own_client, "to": "29307777", "text": "JAUNUMI"},  # a retry
        {"message_id": "g-2", "from": own_client, "to": "29307777", "text": "METADATI"},
        *[
            {"message_id": f"g-s{n}", "from": f"+3712933300{n}", "to": "29307777", "text": "STOP JAUNUMI"}
            for n in range(5)
        ],
    ]

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sargs") as http:
            calls = []
            for doc in docs:
                body = json.dumps(doc).encode()
                headers = {"Content-Type": "application/json", "X-Sargs-Signature": sign_json(SECRET, body)}
                calls.append(http.post("/api/v1/sms/inbound", content=body, headers=headers))
            return await asyncio.gather(*calls)

    answers = run_apart(send_all())
    codes = [r.status_code for r in answers]
    assert sorted(codes[:2]) == [200, 201] and codes[2:] == [201] * 6, [r.text for r in answers]
    assert max(sizes) > 1
    first, retry = answers[0].json(), answers[1].json()
    assert first["reply"]["id"] == retry["reply"]["id"]  # the retry is answered with the same reply
    assert consent(container, own_client, "offers") == "granted"
    assert consent(container, own_client, "metadata") == "granted"
    inbound_rows, replies, events, _ = counts(container)
    assert inbound_rows == 7 and replies == 7  # one row and one reply per message, the retry none
    assert events == 2 + 5
