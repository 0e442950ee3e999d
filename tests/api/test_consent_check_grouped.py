"""Single consent checks that arrive together are answered from one shared transaction
(core.group_commit): each still gets its own answer and its own access-log row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from sargs.bootstrap import create_app
from sargs.domains.audit.model import AccessLogEntry
from sargs.entrypoints.container import Container
from tests.helpers import run_apart

Auth = Callable[..., dict[str, str]]
ROUTE = "GET /api/v1/consents/check"


def test_concurrent_checks_each_get_their_answer_and_their_log_row(
    client: TestClient, auth: Auth, container: Container
) -> None:
    operator = auth("operator")
    granted, withdrawn = [], []
    for n in range(12):
        identity = f"msisdn:+3712900{n:04d}"
        action = "grant" if n % 3 else "withdraw"
        body = {"controller": "lmt", "identity": identity, "purpose": "offers", "action": action}
        r = client.post("/api/v1/consents", json=body, headers=operator)
        assert r.status_code == 201, r.text
        (granted if n % 3 else withdrawn).append((identity, r.json()["event"]["subject_id"]))
    nobody = [f"msisdn:+3712999{n:04d}" for n in range(6)]
    marketing, dpo = auth("marketing"), auth("admin")
    asks = (
        [(i, marketing) for i, _ in granted]
        + [(i, dpo) for i, _ in withdrawn]
        + [(i, marketing) for i in nobody]
    )
    app = create_app(container)  # a fresh app: its group commit starts idle

    async def ask_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sargs") as http:
            return await asyncio.gather(
                *[
                    http.get(
                        "/api/v1/consents/check",
                        params={"controller": "lmt", "identity": identity, "purpose": "offers"},
                        headers=headers,
                    )
                    for identity, headers in asks
                ]
            )

    answers = run_apart(ask_all())
    assert [r.status_code for r in answers] == [200] * len(asks)
    statuses = [(r.json()["allowed"], r.json()["status"]) for r in answers]
    assert statuses == [(True, "granted")] * len(granted) + [(False, "withdrawn")] * len(withdrawn) + [
        (False, "none")
    ] * len(nobody)

    with container.read_sessions.begin() as s:
        rows = list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.route == ROUTE)))
    assert len(rows) == len(asks)  # one row per check, none lost or doubled by the grouping
    logged = sorted((r.subject_id or "", r.role or "", r.outcome) for r in rows)
    expected = sorted(
        [(sid, "marketing", "ok") for _, sid in granted]
        + [(sid, "admin", "ok") for _, sid in withdrawn]
        + [("", "marketing", "not_found")] * len(nobody)
    )
    assert logged == expected
    assert {r.controller for r in rows} == {"lmt"} and {r.action for r in rows} == {"read"}


def test_a_grouped_check_fails_alone_when_the_database_refuses_its_row(
    client: TestClient, auth: Auth, container: Container, monkeypatch: object
) -> None:
    """The group's transaction failing is retried item by item: the others are answered."""
    import sargs.domains.consent.checks as checks

    real = checks.check_consents_by_identity
    poisoned = "+37129990000"

    def refuse_one(*, session, controller, pairs):  # type: ignore[no-untyped-def]
        if any(identity.value == poisoned for identity, _ in pairs):
            raise ValueError("refused in test")
        return real(session=session, controller=controller, pairs=pairs)

    monkeypatch.setattr(checks, "check_consents_by_identity", refuse_one)  # type: ignore[attr-defined]
    marketing = auth("marketing")
    app = create_app(container)

    async def ask(identities: list[str]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://sargs") as http:
            return await asyncio.gather(
                *[
                    http.get(
                        "/api/v1/consents/check",
                        params={"controller": "lmt", "identity": f"msisdn:{i}", "purpose": "offers"},
                        headers=marketing,
                    )
                    for i in identities
                ]
            )

    answers = run_apart(ask(["+37129990001", poisoned, "+37129990002"]))
    assert [r.status_code for r in answers] == [200, 500, 200]
    with container.read_sessions.begin() as s:
        rows = list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.route == ROUTE)))
    assert len(rows) == 2 and {r.outcome for r in rows} == {"not_found"}
