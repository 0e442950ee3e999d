"""Consent-gated e-mail tracking (R-WEB-2): opens, clicks and conversions are recorded only while
tracking consent is in force; redirects work regardless and only to signed URLs; bounces and
complaints come in signed, and a complaint withdraws the consent."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.domains.consent.checks import check_consent
from sargs.domains.consent.service import Actor, record_consent
from sargs.domains.mail.campaign import enqueue_campaign
from sargs.domains.mail.links import LinkPayload, link_key, sign
from sargs.domains.mail.model import MailOutbox
from sargs.domains.sms.signatures import sign_json
from sargs.domains.subjects.identifiers import Identity
from sargs.domains.subjects.service import create_subject
from sargs.domains.web.model import EmailEvent
from sargs.domains.web.tracking import events_of
from sargs.entrypoints.container import Container

BASE = "https://sargs.example.lv"
OFFER = "https://www.lmt.lv/piedavajumi"


def consent(
    container: Container,
    subject_id: str,
    action: str,
    *,
    controller: str = "lmt",
    purpose: str = "email-tracking",
) -> None:
    with container.sessions.begin() as s:
        record_consent(
            session=s,
            registry=container.registry,
            subject_id=subject_id,
            controller=controller,
            purpose=purpose,
            action=action,
            channel="portal",
            actor=Actor("subject", subject_id),
            now=container.clock.now(),
        )


def subscriber(container: Container, email: str = "anna@example.lv") -> str:
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s, identities=[Identity("email", email)], now=container.clock.now()
        )
    consent(container, subject_id, "grant")
    return subject_id


def send_campaign(
    container: Container, *, controller: str = "lmt", purpose: str = "email-tracking"
) -> MailOutbox:
    with container.sessions.begin() as s:
        report = enqueue_campaign(
            session=s,
            registry=container.registry,
            key=link_key(container.settings.secret_key),
            base_url=BASE,
            controller=controller,
            purpose=purpose,
            subject="Piedāvājums",
            text=f"Skatiet {OFFER}\n",
            now=container.clock.now(),
        )
    assert report.queued == 1
    with container.read_sessions.begin() as s:
        return s.scalars(select(MailOutbox)).one()


def links(html: str) -> tuple[str, str]:
    [pixel] = re.findall(r'<img src="https://sargs\.example\.lv(/t/o/[^"]+)"', html)
    [click] = re.findall(r'<a href="https://sargs\.example\.lv(/t/c/[^"]+)"', html)
    return pixel, click


def recorded(container: Container, subject_id: str) -> list[str]:
    with container.read_sessions.begin() as s:
        return [e.kind for e in events_of(session=s, subject_id=subject_id)]


def test_opens_and_clicks_are_recorded_under_tracking_consent(
    client: TestClient, container: Container
) -> None:
    anna = subscriber(container)
    message = send_campaign(container)
    assert message.html is not None
    pixel, click = links(message.html)

    r = client.get(pixel)
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "image/gif"
        and r.headers["cache-control"] == "no-store"
    )
    r = client.get(click, follow_redirects=False)
    assert r.status_code == 302
    target = urlsplit(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == OFFER
    click_id = parse_qs(target.query)["sargs_t"][0]
    # the landing page gets an opaque per-click id, not the signed token naming person and message
    assert re.fullmatch(r"[0-9a-f]{32}", click_id) and click_id != anna and click_id not in click
    r = client.post("/api/v1/mail/conversions", json={"token": click_id, "action": "order"})
    assert r.json() == {"recorded": True}
    assert recorded(container, anna) == ["open", "click", "conversion"]
    consent(container, anna, "withdraw")  # a conversion reported after withdrawal is not recorded
    assert client.post("/api/v1/mail/conversions", json={"token": click_id}).json() == {"recorded": False}
    assert recorded(container, anna) == ["open", "click", "conversion"]


def test_after_withdrawal_nothing_is_recorded_but_the_link_still_leads_to_the_offer(
    client: TestClient, container: Container
) -> None:
    anna = subscriber(container)
    message = send_campaign(container)
    assert message.html is not None
    pixel, click = links(message.html)
    consent(container, anna, "withdraw")

    assert client.get(pixel).status_code == 200
    r = client.get(click, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == OFFER  # no click token: nothing to link
    token = click.rsplit("/", 1)[1]  # the signed token is no conversion reference
    assert client.post("/api/v1/mail/conversions", json={"token": token}).status_code == 422
    assert client.post("/api/v1/mail/conversions", json={"token": "0" * 32}).status_code == 404
    assert recorded(container, anna) == []


def test_a_controller_without_a_tracking_purpose_sends_untracked_mail(
    client: TestClient, container: Container
) -> None:
    with container.sessions.begin() as s:
        subject_id = create_subject(
            session=s, identities=[Identity("email", "peteris@example.lv")], now=container.clock.now()
        )
    consent(container, subject_id, "grant", controller="lytagra-lv", purpose="direct-marketing")
    message = send_campaign(container, controller="lytagra-lv", purpose="direct-marketing")
    assert message.html is None and "/t/" not in message.text
    token = sign(
        link_key(container.settings.secret_key), LinkPayload("o", subject_id, message.id, "lytagra-lv")
    )
    client.get(f"/t/o/{token}.gif")
    assert recorded(container, subject_id) == []


@pytest.mark.parametrize("mangle", ["altered", "foreign key", "pixel as click", "javascript url"])
def test_a_forged_click_link_redirects_nowhere(client: TestClient, container: Container, mangle: str) -> None:
    anna = subscriber(container)
    key = link_key(container.settings.secret_key)
    good = sign(key, LinkPayload("c", anna, "m" * 32, "lmt", url=OFFER))
    token = {
        "altered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "foreign key": sign(
            link_key("another secret"), LinkPayload("c", anna, "m" * 32, "lmt", url="https://evil.example")
        ),
        "pixel as click": sign(key, LinkPayload("o", anna, "m" * 32, "lmt")),
        "javascript url": sign(key, LinkPayload("c", anna, "m" * 32, "lmt", url="javascript:alert(1)")),
    }[mangle]
    r = client.get(f"/t/c/{token}", follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers
    assert recorded(container, anna) == []


def _webhook(client: TestClient, container: Container, body: dict[str, object], *, secret: str | None = None):  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode()
    signature = sign_json(secret or container.settings.mail_webhook_secret, raw)
    return client.post(
        "/api/v1/mail/events",
        content=raw,
        headers={"Content-Type": "application/json", "X-Sargs-Signature": signature},
    )


def test_a_bounce_is_recorded_even_without_tracking_consent(client: TestClient, container: Container) -> None:
    anna = subscriber(container)
    message = send_campaign(container)
    consent(container, anna, "withdraw")
    r = _webhook(
        client, container, {"message_id": message.id, "type": "bounce", "detail": "550 mailbox full"}
    )
    assert r.status_code == 201 and r.json()["consent_withdrawn"] is None
    assert recorded(container, anna) == ["bounce"]


def test_a_spam_complaint_withdraws_the_consent_at_once(client: TestClient, container: Container) -> None:
    anna = subscriber(container)
    message = send_campaign(container)
    r = _webhook(client, container, {"message_id": message.id, "type": "complaint"})
    assert r.status_code == 201 and r.json()["consent_withdrawn"]
    with container.read_sessions.begin() as s:
        assert not check_consent(
            session=s, subject_id=anna, controller="lmt", purpose="email-tracking"
        ).allowed
    assert recorded(container, anna) == ["complaint"]


@pytest.mark.parametrize(
    ("body", "secret", "status"),
    [
        ({"message_id": "0" * 32, "type": "complaint"}, "wrong secret", 403),
        ({"message_id": "0" * 32, "type": "complaint"}, None, 422),  # no such message
        ({"message_id": "0" * 32, "type": "opened"}, None, 422),
    ],
)
def test_bad_webhooks_are_refused_and_change_nothing(
    client: TestClient, container: Container, body: dict[str, object], secret: str | None, status: int
) -> None:
    r = _webhook(client, container, body, secret=secret)
    assert r.status_code == status, r.text
    with container.read_sessions.begin() as s:
        assert s.scalars(select(EmailEvent)).all() == []


def test_a_bounced_address_gets_no_further_campaigns_for_90_days(
    client: TestClient, container: Container
) -> None:
    anna = subscriber(container)
    message = send_campaign(container)
    assert _webhook(client, container, {"message_id": message.id, "type": "bounce"}).status_code == 201
    with container.sessions.begin() as s:
        report = enqueue_campaign(
            session=s, registry=container.registry, key=link_key(container.settings.secret_key), base_url=BASE,
            controller="lmt", purpose="email-tracking", subject="Vēlreiz", text="Teksts", now=container.clock.now(),
        )  # fmt: skip
    assert (report.queued, report.bounced) == (0, 1)
    assert recorded(container, anna) == ["bounce"]
